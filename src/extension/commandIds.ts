// Every command id the extension registers, in one typed table. test/unit/extension-logic/commands.test.ts
// checks it against package.json (each contributed command, menu item and command link is here and
// registered; each id here is contributed) and against the registrations in src/extension/.
// No vscode import, so that test runs in plain Node.

/** The commands package.json contributes (palette, menus, view titles and items, editor title). */
export const Commands = {
  start: 'agentSwarm.start',
  stop: 'agentSwarm.stop',
  postTask: 'agentSwarm.postTask',
  fixFile: 'agentSwarm.fixFile',
  fixProblems: 'agentSwarm.fixProblems',
  fixAllProblems: 'agentSwarm.fixAllProblems',
  reviewResults: 'agentSwarm.reviewResults',
  retryFailed: 'agentSwarm.retryFailed',
  openDashboard: 'agentSwarm.openDashboard',
  exportReport: 'agentSwarm.exportReport',
  configureExecutor: 'agentSwarm.configureExecutor',
  setBoardPassword: 'agentSwarm.setBoardPassword',
  revealBoard: 'agentSwarm.revealBoardFolder',
  showBoard: 'agentSwarm.showBoard',
  showLog: 'agentSwarm.showLog',
  refresh: 'agentSwarm.refresh',
  // Task item actions (view/item/context).
  review: 'agentSwarm.task.review',
  apply: 'agentSwarm.task.apply',
  discard: 'agentSwarm.task.discard',
  undoApply: 'agentSwarm.task.undoApply',
  retry: 'agentSwarm.task.retry',
  cancel: 'agentSwarm.task.cancel',
  requeue: 'agentSwarm.task.requeue',
  openLog: 'agentSwarm.task.openLog',
  showMore: 'agentSwarm.tasks.showMore',
  // Review editor title actions.
  applyReviewed: 'agentSwarm.review.apply',
  discardReviewed: 'agentSwarm.review.discard',
  applyFile: 'agentSwarm.review.applyFile',
  requestChanges: 'agentSwarm.review.requestChanges',
} as const;

/** Registered but not contributed: integration tests read and drive the dashboard through them. */
export const InternalCommands = {
  dashboardProbe: 'agentSwarm.internal.dashboardProbe',
  /** Delivers a message to the host as if the webview had posted it; returns the reply. */
  dashboardMessage: 'agentSwarm.internal.dashboardMessage',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];
export type InternalCommandId = (typeof InternalCommands)[keyof typeof InternalCommands];
