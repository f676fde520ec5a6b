import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { ROOT, parseYaml, readRepoFile, run } from './helpers.js';

// deploy/environments/<env>.json holds everything environment-specific; scripts/eb-environment.mjs
// checks and renders it; deploy/eb-deploy.sh applies it. eb-deploy.sh runs here against a fake
// `aws` that records its calls: no AWS account is involved.

const NAMES = ['staging', 'production'];
const files = Object.fromEntries(NAMES.map((name) => [name, JSON.parse(readRepoFile(`deploy/environments/${name}.json`))]));
const ACCOUNT = '111122223333';

/** A committed file with its placeholders filled, as an ops engineer would. */
function filled(name: string): any {
  return JSON.parse(
    JSON.stringify(files[name]).replaceAll('<account-id>', ACCOUNT).replace(/<[a-z-]+-certificate-id>/g, '0f8c7d6e-1234-4bcd-9abc-0123456789ab').replaceAll('<ops-scrape-cidr>', '10.20.0.0/16'),
  );
}

const ebextensions = readdirSync(join(ROOT, '.ebextensions'))
  .filter((name) => name.endsWith('.config'))
  .map((name) => ({ name, text: readRepoFile(`.ebextensions/${name}`), doc: parseYaml(readRepoFile(`.ebextensions/${name}`)) }));

describe('deploy/environments/*.json', () => {
  it('exist for staging and production, with the same settings (only values differ)', () => {
    const keys = (file: any) => file.OptionSettings.map((s: any) => `${s.Namespace}/${s.OptionName}`).sort();
    expect(keys(files.staging)).toEqual(keys(files.production));
    expect(Object.keys(files.staging.Stack).sort()).toEqual(Object.keys(files.production.Stack).sort());
    expect(files.staging.EnvironmentName).toBe('staging');
    expect(files.production.EnvironmentName).toBe('production');
  });

  for (const name of NAMES) {
    it(`${name}: valid apart from the values an engineer must supply, which the check names`, async () => {
      const result = await run('node', ['scripts/eb-environment.mjs', name, 'check']);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([`${name}: supply <account-id>, <ops-scrape-cidr>, <${name}-certificate-id> (see docs/deployment.md)`]);
      expect(readRepoFile('docs/deployment.md')).toContain('<ops-scrape-cidr>');
      expect(readRepoFile('docs/deployment.md')).toContain(`<${name}-certificate-id>`);
    });

    it(`${name}: once filled, renders option settings leadgate accepts, secrets only by reference`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'leadgate-env-'));
      try {
        const path = join(dir, `${name}.json`);
        writeFileSync(path, JSON.stringify(filled(name)));
        const rendered = await run('node', ['scripts/eb-environment.mjs', path, 'option-settings']);
        expect(rendered.code, rendered.stderr).toBe(0);
        const settings = JSON.parse(rendered.stdout) as Array<{ Namespace: string; OptionName: string; Value: string }>;
        const of = (namespace: string) => Object.fromEntries(settings.filter((s) => s.Namespace === namespace).map((s) => [s.OptionName, s.Value]));
        // With the bundle's own properties, leadgate's validation accepts the environment.
        const bundled = Object.assign({}, ...ebextensions.map(({ doc }) => doc.option_settings?.['aws:elasticbeanstalk:application:environment'] ?? {}));
        const environment = { ...bundled, ...of('aws:elasticbeanstalk:application:environment') };
        const secrets = of('aws:elasticbeanstalk:application:environmentsecrets');
        const env = loadEnv({ ...environment, ...Object.fromEntries(Object.keys(secrets).map((k) => [k, 'from-the-secret-store-0123456789abcdef'])) });
        expect(env.LEADGATE_STORE).toBe('dynamodb');
        expect(env.DYNAMODB_TABLE_PREFIX).toBe(`leadgate-${name}`);
        for (const key of Object.keys(environment)) expect(key).not.toMatch(/TOKEN|SECRET|PASSWORD|_KEY$/);
        expect(Object.keys(secrets)).toEqual(expect.arrayContaining(['LEADGATE_ADMIN_TOKEN', 'LEADGATE_PRIVACY_KEY']));
        for (const arn of Object.values(secrets)) expect(arn).toMatch(new RegExp(`^arn:aws:(ssm|secretsmanager):eu-west-1:${ACCOUNT}:(parameter/leadgate/${name}/|secret:)`));
        // What .ebextensions reads through Fn::GetOptionSetting is derived, not repeated.
        expect(of('aws:elasticbeanstalk:customoption')).toEqual({
          AlarmTopicArn: filled(name).Stack.AlarmTopicArn,
          DeliveryQueueName: `leadgate-${name}-deliveries`,
          OpsScrapeCidr: '10.20.0.0/16',
        });
        expect(of('aws:elasticbeanstalk:cloudwatch:logs').RetentionInDays).toBe(filled(name).Stack.LogRetentionDays);
        expect(of('aws:elbv2:listener:443')).toMatchObject({ Protocol: 'HTTPS', SSLCertificateArns: expect.stringMatching(/^arn:aws:acm:/) });

        const parameters = await run('node', ['scripts/eb-environment.mjs', path, 'stack-parameters']);
        const overrides = Object.fromEntries(parameters.stdout.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2)));
        expect(overrides.EnvironmentName).toBe(name);
        expect(overrides.AlarmTopicArn).toMatch(/^arn:aws:sns:/);
        expect(overrides.SecretParameterArns!.split(',').sort()).toEqual(Object.values(secrets).sort());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses what would deploy wrongly, naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadgate-env-'));
    try {
      const bad = filled('staging');
      const set = (namespace: string, option: string, value: string) => {
        const found = bad.OptionSettings.find((s: any) => s.Namespace === namespace && s.OptionName === option);
        if (found) found.Value = value;
        else bad.OptionSettings.push({ Namespace: namespace, OptionName: option, Value: value });
      };
      set('aws:elasticbeanstalk:application:environment', 'DYNAMODB_TABLE_PREFIX', 'leadgate-production');
      set('aws:elasticbeanstalk:application:environment', 'CRM_MAIN_SECRET', 'whsec_plain');
      set('aws:autoscaling:asg', 'MinSize', '1');
      set('aws:elasticbeanstalk:application:environmentsecrets', 'MERCIPLUS_KEY', 'plain-text-key');
      bad.Stack.AlarmTopicArn = '';
      const path = join(dir, 'staging.json');
      writeFileSync(path, JSON.stringify(bad));
      const result = await run('node', ['scripts/eb-environment.mjs', path, 'check']);
      expect(result.code).toBe(1);
      for (const expected of [
        /DYNAMODB_TABLE_PREFIX: leadgate-staging/,
        /environment\/CRM_MAIN_SECRET: a secret, set it in aws:elasticbeanstalk:application:environmentsecrets/,
        /MinSize: at least 2/,
        /environmentsecrets\/MERCIPLUS_KEY: an SSM parameter or Secrets Manager secret ARN/,
        /Stack.AlarmTopicArn: an SNS topic ARN/,
      ]) {
        expect(result.stderr).toMatch(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the bundle carries no environment value', () => {
  it('sets none of the options the environment files set', () => {
    const perEnvironment = new Set(files.staging.OptionSettings.map((s: any) => `${s.Namespace}/${s.OptionName}`));
    perEnvironment.add('aws:elasticbeanstalk:cloudwatch:logs/RetentionInDays');
    perEnvironment.add('aws:elasticbeanstalk:cloudwatch:logs:health/RetentionInDays');
    for (const { name, doc } of ebextensions) {
      for (const [namespace, options] of Object.entries((doc.option_settings ?? {}) as Record<string, object>)) {
        for (const option of Object.keys(options)) expect(perEnvironment.has(`${namespace}/${option}`), `${name}: ${namespace}/${option}`).toBe(false);
      }
    }
  });

  it('names no account, ARN, queue URL, table prefix or environment', () => {
    // NODE_ENV=production is Node's convention for "not development", the same everywhere.
    const text = [...ebextensions.map((e) => JSON.stringify(e.doc)), readRepoFile('Procfile')].join('\n').replace('"NODE_ENV":"production"', '');
    expect(text).not.toMatch(/arn:aws/);
    expect(text).not.toMatch(/\b\d{12}\b/);
    expect(text).not.toMatch(/sqs\.[a-z0-9-]+\.amazonaws\.com/);
    expect(text).not.toMatch(/\b(staging|production)\b/i);
    expect(text).not.toMatch(/\b(eu|us|ap|sa|ca|me|af)-[a-z]+-\d\b/);
  });
});

describe('deploy/eb-deploy.sh (against a fake aws)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A fake `aws` on PATH: logs each call (and the option-settings file it names) and answers as a deployed stack would. */
  function fakeAws(name: string, overrides: { queueUrl?: string } = {}) {
    dir = mkdtempSync(join(tmpdir(), 'leadgate-ebdeploy-'));
    const log = join(dir, 'calls.jsonl');
    const envFile = join(dir, `${name}.json`);
    writeFileSync(envFile, JSON.stringify(filled(name)));
    const outputs = {
      QueueUrl: overrides.queueUrl ?? `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/leadgate-${name}-deliveries`,
      TablePrefix: `leadgate-${name}`,
      InstanceProfileName: `leadgate-${name}-InstanceProfile-ABC`,
      ServiceRoleArn: `arn:aws:iam::${ACCOUNT}:role/leadgate-${name}-ServiceRole-XYZ`,
    };
    writeFileSync(
      join(dir, 'aws'),
      `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
const entry = { args };
const file = args.find((a) => a.startsWith('file://'));
if (file) entry.optionSettings = JSON.parse(fs.readFileSync(file.slice(7), 'utf8'));
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(entry) + '\\n');
const [service, command] = args;
const query = args[args.indexOf('--query') + 1] || '';
const outputs = ${JSON.stringify(outputs)};
const say = (text) => process.stdout.write(text + '\\n');
if (command === 'describe-stacks') say(outputs[/OutputKey=='(\\w+)'/.exec(query)[1]]);
else if (command === 'describe-applications') say('leadgate');
else if (command === 'describe-application-versions') say(query.includes('Status') ? 'PROCESSED' : 'None');
else if (command === 'describe-environments' && query.includes('Health')) say('Ready\\tGreen\\t' + process.env.VERSION_LABEL);
else if (command === 'describe-environments') say('Ready');
else if (command === 'describe-configuration-settings') say(query.includes('Timeout') ? '900' : '6');
`,
    );
    chmodSync(join(dir, 'aws'), 0o755);
    writeFileSync(join(dir, 'bundle.zip'), 'zip');
    const env = {
      PATH: `${dir}:${process.env.PATH}`,
      ENVIRONMENT_FILE: envFile,
      VERSION_LABEL: '0.1.0-abcdef123456',
      BUNDLE: join(dir, 'bundle.zip'),
      ARTIFACT_BUCKET: 'leadgate-artifacts',
    };
    const calls = () => readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { args: string[]; optionSettings?: any[] });
    return { env, calls };
  }

  it('is valid bash', async () => {
    expect((await run('bash', ['-n', 'deploy/eb-deploy.sh'])).code).toBe(0);
  });

  it('stops before any AWS call while the file still has values to supply', async () => {
    const result = await run('bash', ['deploy/eb-deploy.sh', 'staging'], { env: { ...process.env, PATH: `/nonexistent:${process.env.PATH}` } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/supply <account-id>/);
  });

  it('applies the stack with the file (alarm topic kept, exactly its secrets), then the version, then the settings, and waits', async () => {
    const { env, calls } = fakeAws('staging');
    const result = await run('bash', ['deploy/eb-deploy.sh', 'staging'], { env: { ...process.env, ...env } });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const log = calls();
    const commands = log.map((c) => c.args.slice(0, 2).join(' '));
    const at = (command: string) => commands.indexOf(command);
    expect(at('cloudformation deploy')).toBe(0);
    expect(at('cloudformation deploy')).toBeLessThan(at('elasticbeanstalk create-application-version'));
    expect(at('s3 cp')).toBeLessThan(at('elasticbeanstalk create-application-version'));
    expect(at('elasticbeanstalk create-application-version')).toBeLessThan(at('elasticbeanstalk update-environment'));
    expect(commands).not.toContain('elasticbeanstalk wait');

    const deploy = log[at('cloudformation deploy')]!.args;
    const overrides = deploy.slice(deploy.indexOf('--parameter-overrides') + 1);
    expect(overrides).toContain(`AlarmTopicArn=arn:aws:sns:eu-west-1:${ACCOUNT}:leadgate-staging-alarms`);
    expect(overrides).toContain('EnvironmentName=staging');
    expect(overrides.find((o) => o.startsWith('SecretParameterArns='))).toMatch(/parameter\/leadgate\/staging\/LEADGATE_ADMIN_TOKEN/);

    const update = log[at('elasticbeanstalk update-environment')]!;
    expect(update.args).toEqual(expect.arrayContaining(['--environment-name', 'leadgate-staging', '--version-label', '0.1.0-abcdef123456']));
    const settings = update.optionSettings!;
    for (const setting of filled('staging').OptionSettings) expect(settings).toContainEqual(setting);
    expect(settings).toContainEqual({ Namespace: 'aws:autoscaling:launchconfiguration', OptionName: 'IamInstanceProfile', Value: 'leadgate-staging-InstanceProfile-ABC' });
    expect(settings).toContainEqual({ Namespace: 'aws:elasticbeanstalk:environment', OptionName: 'ServiceRole', Value: expect.stringContaining('ServiceRole') });
    expect(result.stdout).toMatch(/at most \d+ min/);
    // (900 + 240) s per batch, 6 + 1 batches: 133 min, well past the CLI waiter's 400 s.
    expect(Number(/at most (\d+) min/.exec(result.stdout)![1])).toBeGreaterThanOrEqual(132);
  });

  it('refuses to deploy when the file names another queue than the stack', async () => {
    const { env, calls } = fakeAws('production', { queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/something-else` });
    const result = await run('bash', ['deploy/eb-deploy.sh', 'production'], { env: { ...process.env, ...env } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/SQS_QUEUE_URL is not the stack's QueueUrl/);
    expect(calls().map((c) => c.args[1])).not.toContain('update-environment');
  });
});
