// The dashboard page inside a webview: resource URIs through asWebviewUri, a fresh nonce per page.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { dashboardPageHtml } from './page';

/** Folders the webview may load from; nothing else of the extension or the disk is reachable. */
export function dashboardResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [
    vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
    vscode.Uri.joinPath(extensionUri, 'media', 'dashboard'),
  ];
}

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, nonce: string = newNonce()): string {
  const asset = (...segments: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...segments)).toString();
  return dashboardPageHtml({
    cspSource: webview.cspSource,
    nonce,
    scriptUri: asset('dist', 'webview', 'dashboard.js'),
    styleUri: asset('media', 'dashboard', 'dashboard.css'),
    codiconUri: asset('media', 'dashboard', 'codicons', 'codicon.css'),
  });
}
