// The git side of runners on other machines (docs/remote-git.md): the developer ships the task's
// snapshot as a bundle, a runner imports it with the identical commit id, and the result comes back
// as a patch plus a bundle. vscode-free, and independent of the pool and the CLI.
export { snapshotForRemote } from './snapshot';
export type { SnapshotForRemoteOptions, RemoteSnapshot, LeftOutFile, LeftOutReason } from './snapshot';
export { importSnapshot, releaseSnapshot } from './runner';
export type { ImportSnapshotOptions, ImportedSnapshot } from './runner';
export { exportResult, importResult } from './result';
export type { ExportResultOptions, ExportedResult, ImportResultOptions, ImportedResult } from './result';
export { repositoryFor, cacheFolderName } from './repositories';
export type { RepositorySourceOptions, LocalRepository } from './repositories';
export { normaliseRepositoryUrl, stripCredentials, isLocalUrl } from './identity';
export { readSnapshotDescriptor, readResultDescriptor, REMOTE_FORMAT, SNAPSHOT_REF_PREFIX, IMPORTED_REF_PREFIX, RESULT_REF_PREFIX, PARTIAL_REF_PREFIX } from './descriptor';
export type { SnapshotDescriptor, ResultDescriptor, BundleKind, ResultKind } from './descriptor';
export { CannotServeTaskError, RemoteGitError } from './errors';
export { RemoteWorkspace, HandBackBackoff, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT, PARTIAL_BUNDLE_ARTIFACT } from './workspace';
export type { RemoteWorkspaceOptions, MakeIsolation } from './workspace';
export { snapshotForPost, isSharedBoard, descriptorOf, SNAPSHOT_ARTIFACT, postTasks, postMap, withSource } from './post';
export type { PostPlace } from './post';
export type { RemoteGitProblem } from './errors';
export { DEFAULT_MAX_EXPANDED_BYTES } from './importer';
