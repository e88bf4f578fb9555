// A minimal event emitter whose event names and payloads are checked by the compiler.

export interface Disposable {
  dispose(): void;
}

type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** @param onListenerError where a throwing listener's error goes; it never reaches the emitter. */
  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error(error)) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): Disposable {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return { dispose: () => void this.listeners.get(event)?.delete(listener as Listener<never>) };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        // One failing subscriber (e.g. a closed webview) must not stop sampling or the others.
        this.onListenerError(error);
      }
    }
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }
}
