import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, parseYaml, readRepoFile, run } from './helpers.js';

// The CI/CD definitions are checked by structure: GitHub Actions, Jenkins and CodeBuild
// cannot run here.

describe('GitHub Actions (.github/workflows/ci.yml)', () => {
  const workflow = parseYaml(readRepoFile('.github/workflows/ci.yml'));
  const steps = (job: string) => workflow.jobs[job].steps as any[];
  const commands = (job: string) => steps(job).map((s) => s.run ?? '').join('\n');

  it('lints', () => {
    expect(commands('lint')).toMatch(/npm ci/);
    expect(commands('lint')).toMatch(/npm run lint/);
    expect(commands('lint')).toMatch(/scripts\/cloudformation\.mjs --check/);
  });

  it('tests on Node 20, 22 and 24 with the system tools the tests run', () => {
    expect(workflow.jobs.test.strategy.matrix.node).toEqual([20, 22, 24]);
    expect(steps('test').find((s) => s.uses?.startsWith('actions/setup-node')).with['node-version']).toBe('${{ matrix.node }}');
    expect(commands('test')).toMatch(/apt-get install[^\n]*redis-server[^\n]*prometheus[^\n]*haproxy[^\n]*default-jre-headless/);
    expect(commands('test')).toMatch(/npm test/);
  });

  it('builds the Docker image', () => {
    const build = steps('docker').find((s) => s.uses?.startsWith('docker/build-push-action'));
    expect(build.with).toMatchObject({ context: '.', push: false });
  });

  it('packages the Elastic Beanstalk bundle after lint and tests, and uploads it', () => {
    expect(workflow.jobs.package.needs).toEqual(expect.arrayContaining(['lint', 'test']));
    expect(commands('package')).toMatch(/npm run package/);
    const upload = steps('package').find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload.with.path).toBe('build/leadgate-*.zip');
  });
});

describe('Jenkinsfile', () => {
  const jenkinsfile = readRepoFile('Jenkinsfile');
  const stages = [...jenkinsfile.matchAll(/^\s*stage\('([^']+)'\)/gm)].map((m) => m[1]);

  it('is a declarative pipeline with the stages in order', () => {
    expect(jenkinsfile).toMatch(/^pipeline \{/m);
    expect(stages).toEqual([
      'Build and deploy to staging',
      'Checkout',
      'Install',
      'Lint',
      'Test',
      'Build',
      'Package',
      'Deploy to staging',
      'Approve production',
      'Deploy to production',
    ]);
  });

  /** The body of one stage, up to the next stage. */
  const body = (name: string) => {
    const start = jenkinsfile.indexOf(`stage('${name}')`);
    const next = jenkinsfile.indexOf("stage('", start + 1);
    return jenkinsfile.slice(start, next < 0 ? undefined : next);
  };

  it('installs with npm ci, lints, tests, builds and packages', () => {
    expect(body('Checkout')).toMatch(/checkout scm/);
    expect(body('Install')).toMatch(/sh 'npm ci'/);
    expect(body('Lint')).toMatch(/npm run lint/);
    expect(body('Test')).toMatch(/npm test/);
    expect(body('Build')).toMatch(/npm run build/);
    expect(body('Package')).toMatch(/scripts\/package-eb\.mjs/);
    expect(body('Package')).toMatch(/archiveArtifacts artifacts: 'build\/leadgate-\*\.zip'/);
  });

  it('deploys to staging, waits for a person, then deploys the same version to production', () => {
    expect(body('Deploy to staging')).toMatch(/deploy\/eb-deploy\.sh staging/);
    expect(body('Deploy to production')).toMatch(/deploy\/eb-deploy\.sh production/);
    expect(jenkinsfile).toMatch(/env\.VERSION_LABEL =/);
  });

  /** The code of the file with comments removed. */
  const code = jenkinsfile.replace(/\/\/.*$/gm, '');

  it('asks for approval on no agent, with a stage-level input and its own 3-day timeout', () => {
    const approval = body('Approve production').replace(/\/\/.*$/gm, '');
    expect(approval).toMatch(/agent none/);
    expect(approval).toMatch(/^\s+input \{\s+message /m);
    expect(approval).not.toMatch(/steps \{[^}]*\binput\b/);
    expect(approval).toMatch(/timeout\(time: 3, unit: 'DAYS'\)/);
    expect(approval).toMatch(/beforeInput true/);
    // The pipeline starts on no agent: only the stages that work take one.
    expect(code).toMatch(/^pipeline \{\s+agent none/m);
  });

  it('has no pipeline-wide timeout that would cut the approval; the working stages have their own', () => {
    const pipelineOptions = /^ {2}options \{([^}]*)\}/m.exec(code)![1]!;
    expect(pipelineOptions).not.toMatch(/timeout/);
    for (const stage of ['Build and deploy to staging', 'Deploy to production']) expect(body(stage)).toMatch(/timeout\(time: \d+, unit: 'HOURS'\)/);
  });

  it('works as a plain pipeline job too: no `when { branch }`, the branch from BRANCH_NAME or GIT_BRANCH', () => {
    expect(code).not.toMatch(/when \{[^}]*\bbranch\b/);
    expect(code).toMatch(/env\.BRANCH_NAME \?: env\.GIT_BRANCH/);
    for (const stage of ['Deploy to staging', 'Approve production', 'Deploy to production']) {
      expect(body(stage)).toMatch(/environment name: 'DEPLOYS', value: 'true'/);
    }
  });

  it('deploys production from the stashed deploy files, without the bundle (the version exists)', () => {
    expect(body('Checkout')).toMatch(/stash name: 'deploy', includes: '[^']*deploy\/\*\*[^']*scripts\/eb-environment\.mjs/);
    expect(body('Deploy to production')).toMatch(/unstash 'deploy'/);
    expect(body('Deploy to production')).toMatch(/beforeAgent true/);
  });

  it('balances its braces', () => {
    const code = jenkinsfile.replace(/\/\/.*$/gm, '').replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '');
    expect(code.split('{').length).toBe(code.split('}').length);
  });
});

describe('buildspec.yml (CodeBuild / CodePipeline)', () => {
  const buildspec = parseYaml(readRepoFile('buildspec.yml'));

  it("runs the README's test command, lints and packages, on Node 22 with the tests' system tools", () => {
    expect(buildspec.version).toBe(0.2);
    expect(buildspec.phases.install['runtime-versions'].nodejs).toBe(22);
    expect(buildspec.phases.install.commands.join('\n')).toMatch(/apt-get install[^\n]*prometheus[^\n]*haproxy[^\n]*default-jre-headless/);
    expect(readRepoFile('README.md')).toMatch(/^npm install && npm test\b/m);
    const build = buildspec.phases.build.commands as string[];
    expect(build[0]).toBe('npm install && npm test');
    expect(build).toContain('npm run lint');
    expect(build.indexOf('npm run package')).toBeGreaterThan(0);
  });

  it('exports the version label and hands on what eb-deploy.sh reads', () => {
    expect(buildspec.env['exported-variables']).toEqual(['VERSION_LABEL']);
    expect(buildspec.phases.build.commands.join('\n')).toMatch(/export VERSION_LABEL=/);
    expect(buildspec.artifacts.files).toEqual(expect.arrayContaining(['build/leadgate-*.zip', 'deploy/**/*', 'scripts/eb-environment.mjs', 'package.json']));
  });

  it('has a deploy buildspec that runs eb-deploy.sh for the environment the pipeline names', () => {
    const deploy = parseYaml(readRepoFile('deploy/buildspec-deploy.yml'));
    expect(deploy.phases.build.commands.join('\n')).toMatch(/deploy\/eb-deploy\.sh "\$ENVIRONMENT"/);
    expect(deploy.phases.build.commands.join('\n')).toMatch(/test -n "\$ENVIRONMENT" && test -n "\$VERSION_LABEL"/);
  });
});

describe('.ci/run', () => {
  it('runs cfn-lint after the tests only where it is installed, failing on errors', () => {
    const script = readRepoFile('.ci/run');
    expect(script.indexOf('npm test')).toBeLessThan(script.indexOf('cfn-lint deploy/cloudformation/leadgate.yaml'));
    expect(script).toMatch(/if command -v cfn-lint/);
    expect(script).toMatch(/lint_rc & 3/);
  });
});

describe('scripts/ensure-system-tools.sh (pretest)', () => {
  let bin: string | undefined;
  afterEach(() => {
    if (bin) rmSync(bin, { recursive: true, force: true });
    bin = undefined;
  });

  /** A PATH holding only fakes: `id` answers uid, apt-get records its arguments. */
  function fakePath(uid: number, tools: string[]): { path: string; log: string } {
    bin = mkdtempSync(join(tmpdir(), 'leadgate-tools-'));
    const log = join(bin, 'apt.log');
    const fake = (name: string, body: string) => {
      writeFileSync(join(bin!, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin!, name), 0o755);
    };
    fake('id', `echo ${uid}`);
    fake('apt-get', `echo "apt-get $*" >> ${log}`);
    for (const tool of tools) fake(tool, 'exit 0');
    writeFileSync(log, '');
    return { path: bin, log };
  }

  const runScript = (path: string) => run('/bin/sh', ['scripts/ensure-system-tools.sh'], { env: { PATH: path } });

  it('is the pretest script', () => {
    expect(JSON.parse(readRepoFile('package.json')).scripts.pretest).toBe('sh scripts/ensure-system-tools.sh');
  });

  /** Every tool the suite needs (a fake php answers yes to every extension and file check). */
  const ALL = ['promtool', 'haproxy', 'java', 'chromium', 'php', 'phpunit'];

  it('does nothing when every tool is there', async () => {
    const { path, log } = fakePath(0, ALL);
    const result = await runScript(path);
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).toBe('');
    expect(readFileSync(log, 'utf8')).toBe('');
  });

  it('installs what is missing with apt-get when root', async () => {
    const { path, log } = fakePath(0, ALL.filter((tool) => tool !== 'promtool'));
    const result = await runScript(path);
    expect(result.code).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends prometheus',
    ]);
  });

  it('only says what to install when not root', async () => {
    const { path, log } = fakePath(1000, []);
    const result = await runScript(path);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/missing prometheus haproxy default-jre-headless chromium php-cli php-curl php-mbstring php-sqlite3 php-xml phpunit php-laravel-framework;/);
    expect(readFileSync(log, 'utf8')).toBe('');
  });

  it('lives where package.json says', () => {
    expect(readFileSync(join(ROOT, 'scripts/ensure-system-tools.sh'), 'utf8')).toMatch(/^#!\/bin\/sh/);
  });
});
