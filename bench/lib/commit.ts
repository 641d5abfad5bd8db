import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

const git = (...args: string[]): string =>
  execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();

/**
 * The commit a benchmark measures (`git rev-parse --short HEAD`), followed by `+changes` when
 * tracked files differ from it; `unknown` outside a git checkout. Figures in bench/README.md are
 * marked with it, so a reader can tell which code they describe.
 */
export function measuredAt(): string {
  try {
    const sha = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? sha : `${sha}+changes`;
  } catch {
    return 'unknown';
  }
}
