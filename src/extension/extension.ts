import * as vscode from 'vscode';

// The extension layer adapts the vscode-free core to VS Code. This first version only proves
// activation; the Swarm panel, dashboard and commands arrive with the UI issue.
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Agent Swarm', { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(
    vscode.commands.registerCommand('agentSwarm.showBoard', () => {
      log.show(true);
    }),
  );
  log.info('Agent Swarm activated');
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
