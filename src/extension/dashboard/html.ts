// The dashboard page: a strict CSP (nothing remote, scripts only by nonce, styles and fonts only
// from the extension), one bundled script, one stylesheet, the codicon font.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';

/** Folders the webview may load from; nothing else of the extension or the disk is reachable. */
export function dashboardResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [
    vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
    vscode.Uri.joinPath(extensionUri, 'media', 'dashboard'),
    vscode.Uri.joinPath(extensionUri, 'node_modules', '@vscode', 'codicons', 'dist'),
  ];
}

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function dashboardCsp(webview: vscode.Webview, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, nonce: string = newNonce()): string {
  const asset = (...segments: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...segments)).toString();
  const script = asset('dist', 'webview', 'dashboard.js');
  const styles = asset('media', 'dashboard', 'dashboard.css');
  const codicons = asset('node_modules', '@vscode', 'codicons', 'dist', 'codicon.css');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${dashboardCsp(webview, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${codicons}">
<link rel="stylesheet" href="${styles}">
<title>Swarm Dashboard</title>
</head>
<body>
<div id="app" aria-live="polite"><p class="empty">Loading the dashboard…</p></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
