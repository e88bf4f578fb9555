// How strictly objects from other machines are checked. Strict checking (index-pack --strict,
// fetch.fsckObjects) turns every fsck warning into an error; the security-relevant ones (`.git` and
// `..` paths, malformed trees, bad .gitmodules) must stay errors, but flaws that old, real histories
// have (zero-padded modes, odd dates) would make whole repositories unusable, so they are ignored.

export const HARMLESS_HISTORY_FLAWS = ['zeroPaddedFilemode', 'badFilemode', 'badTimezone', 'badDate', 'badDateOverflow', 'missingSpaceBeforeDate', 'missingSpaceBeforeEmail', 'missingEmail', 'missingNameBeforeEmail', 'missingTaggerEntry', 'badTagName'];

/** `git index-pack` argument: strict, with the harmless flaws ignored. */
export function strictIndexPackArg(): string {
  return `--strict=${HARMLESS_HISTORY_FLAWS.map((id) => `${id}=ignore`).join(',')}`;
}

/** `git -c` arguments for a fetch with checked objects, the harmless flaws ignored. */
export function checkedFetchConfig(): string[] {
  return ['-c', 'fetch.fsckObjects=true', ...HARMLESS_HISTORY_FLAWS.flatMap((id) => ['-c', `fetch.fsck.${id}=ignore`])];
}
