// The base for extension objects that own subscriptions, watchers and emitters: register each as it
// is made, and dispose() ends them all once, newest first, even when one of them throws. No vscode
// import: anything with dispose() fits, so this is unit-tested in plain Node.

export interface DisposableLike {
  dispose(): unknown;
}

export class DisposableBase implements DisposableLike {
  private readonly owned: DisposableLike[] = [];
  private disposed = false;

  /** Whether dispose() has run. */
  protected get isDisposed(): boolean {
    return this.disposed;
  }

  /** Takes ownership of `item`; one registered after dispose() is disposed at once (nothing leaks). */
  protected register<T extends DisposableLike>(item: T): T {
    if (this.disposed) {
      item.dispose();
      return item;
    }
    this.owned.push(item);
    return item;
  }

  /** Disposes what was registered, newest first; a second call does nothing. Rethrows the first failure after all ran. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const failures: unknown[] = [];
    for (const item of this.owned.splice(0).reverse()) {
      try {
        item.dispose();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
