// The dashboard page's HTML and CSP, free of vscode so a browser test can serve the very same page.

export interface DashboardPageAssets {
  /** The webview's `cspSource` (VS Code's resource origin). */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
}

/** Nothing remote, scripts only by nonce, styles and fonts only from the extension's resources. */
export function dashboardCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function dashboardPageHtml(assets: DashboardPageAssets): string {
  const attribute = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attribute(dashboardCsp(assets.cspSource, assets.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attribute(assets.codiconUri)}">
<link rel="stylesheet" href="${attribute(assets.styleUri)}">
<title>Swarm Dashboard</title>
</head>
<body>
<div id="app" aria-live="polite"><p class="empty">Loading the dashboard…</p></div>
<script nonce="${attribute(assets.nonce)}" src="${attribute(assets.scriptUri)}"></script>
</body>
</html>`;
}
