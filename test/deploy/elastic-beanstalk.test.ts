import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { ROOT, parseYaml, readRepoFile, run } from './helpers.js';

// What Elastic Beanstalk reads at the root of the source bundle: Procfile and .ebextensions/.
// Checked by structure; nothing here talks to AWS.

const configFiles = readdirSync(join(ROOT, '.ebextensions'))
  .filter((name) => name.endsWith('.config'))
  .sort();
const configs = configFiles.map((name) => ({ name, doc: parseYaml(readRepoFile(`.ebextensions/${name}`)) }));

/** Every option_settings value, as namespace -> option -> value (a later file wins, as on EB). */
const options = new Map<string, Record<string, unknown>>();
for (const { doc } of configs) {
  for (const [namespace, settings] of Object.entries((doc.option_settings ?? {}) as Record<string, Record<string, unknown>>)) {
    options.set(namespace, { ...options.get(namespace), ...settings });
  }
}
const option = (namespace: string, name: string) => options.get(namespace)?.[name];

describe('Procfile', () => {
  const processes = Object.fromEntries(
    readRepoFile('Procfile')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => {
        const [, name, command] = /^([a-z]+):\s*(.+)$/.exec(line)!;
        return [name!, command!];
      }),
  );

  it('runs the api as web and the worker apart, with node on the built CLI (no npm bin link on EB)', () => {
    expect(processes).toEqual({ web: 'node dist/cli.js api', worker: 'node dist/cli.js worker' });
    expect(existsSync(join(ROOT, 'dist/cli.js'))).toBe(true);
  });

  it('names commands the CLI knows', async () => {
    const { stdout, stderr } = await run('node', ['dist/cli.js', 'help']);
    const usage = stdout + stderr;
    for (const command of Object.values(processes)) {
      expect(usage).toMatch(new RegExp(`^\\s+${command.split(' ').at(-1)}\\b`, 'm'));
    }
  });
});

describe('.ebextensions', () => {
  it('every file is YAML with only option_settings or container_commands', () => {
    expect(configFiles.length).toBeGreaterThan(0);
    for (const { name, doc } of configs) {
      expect(Object.keys(doc).every((key) => ['option_settings', 'container_commands'].includes(key)), name).toBe(true);
    }
  });

  it('checks /health/ready, on the application and on the ALB target group, with enhanced health', () => {
    expect(option('aws:elasticbeanstalk:application', 'Application Healthcheck URL')).toBe('/health/ready');
    expect(option('aws:elasticbeanstalk:environment:process:default', 'HealthCheckPath')).toBe('/health/ready');
    expect(option('aws:elasticbeanstalk:environment', 'LoadBalancerType')).toBe('application');
    expect(option('aws:elasticbeanstalk:healthreporting:system', 'SystemType')).toBe('enhanced');
    const rules = JSON.parse(String(option('aws:elasticbeanstalk:healthreporting:system', 'ConfigDocument')));
    expect(rules.Version).toBe(1);
  });

  it('deploys rolling with an additional batch of one, and rolls configuration updates', () => {
    expect(option('aws:elasticbeanstalk:command', 'DeploymentPolicy')).toBe('RollingWithAdditionalBatch');
    expect(option('aws:elasticbeanstalk:command', 'BatchSizeType')).toBe('Fixed');
    expect(option('aws:elasticbeanstalk:command', 'BatchSize')).toBe('1');
    expect(option('aws:autoscaling:updatepolicy:rollingupdate', 'RollingUpdateEnabled')).toBe('true');
    expect(option('aws:autoscaling:updatepolicy:rollingupdate', 'MaxBatchSize')).toBe('1');
  });

  it('keeps at least two instances in two zones, scaling on NetworkOut as the 2017 set-up', () => {
    expect(Number(option('aws:autoscaling:asg', 'MinSize'))).toBeGreaterThanOrEqual(2);
    expect(Number(option('aws:autoscaling:asg', 'MaxSize'))).toBeGreaterThan(Number(option('aws:autoscaling:asg', 'MinSize')));
    expect(option('aws:autoscaling:asg', 'Availability Zones')).toMatch(/^Any( [2-9])?$/);
    expect(option('aws:autoscaling:asg', 'Availability Zones')).not.toBe('Any 1');
    expect(options.get('aws:autoscaling:trigger')).toMatchObject({
      MeasureName: 'NetworkOut',
      Statistic: 'Average',
      Unit: 'Bytes',
      UpperThreshold: '6000000',
      LowerThreshold: '2000000',
      Period: '5',
    });
    // The comment says why CPU is the better trigger today and how to switch.
    expect(readRepoFile('.ebextensions/04-autoscaling.config')).toMatch(/CPUUtilization/);
  });

  it('streams logs to CloudWatch and keeps them after termination', () => {
    expect(options.get('aws:elasticbeanstalk:cloudwatch:logs')).toMatchObject({ StreamLogs: 'true', DeleteOnTerminate: 'false' });
    expect(Number(option('aws:elasticbeanstalk:cloudwatch:logs', 'RetentionInDays'))).toBeGreaterThan(0);
  });

  it('sets the production environment properties, valid for leadgate, and no secrets', () => {
    const environment = options.get('aws:elasticbeanstalk:application:environment') as Record<string, string>;
    expect(environment).toMatchObject({ LEADGATE_STORE: 'dynamodb', LEADGATE_QUEUE: 'sqs', AWS_REGION: 'eu-west-1' });
    for (const name of ['DYNAMODB_TABLE_PREFIX', 'SQS_QUEUE_URL', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'LEADGATE_CONFIG']) {
      expect(environment[name], name).toBeTruthy();
    }
    // leadgate's own validation accepts them (the platform's variables aside).
    const env = loadEnv(Object.fromEntries(Object.entries(environment).filter(([name]) => !['NODE_ENV', 'NPM_USE_PRODUCTION'].includes(name))));
    expect(env.PORT).toBe(8080);
    for (const name of Object.keys(environment)) expect(name).not.toMatch(/TOKEN|SECRET|PASSWORD|_KEY$/);
  });

  it('lets the load balancer drain an instance for at least SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownMs = Number(option('aws:elasticbeanstalk:application:environment', 'SHUTDOWN_TIMEOUT_MS'));
    const deregistrationSec = Number(option('aws:elasticbeanstalk:environment:process:default', 'DeregistrationTimeout'));
    expect(deregistrationSec * 1000).toBeGreaterThanOrEqual(shutdownMs);
  });

  it('runs `leadgate migrate` once per deployment (leader_only)', () => {
    const commands = configs.flatMap(({ doc }) => Object.values((doc.container_commands ?? {}) as Record<string, any>));
    expect(commands).toContainEqual({ command: 'node dist/cli.js migrate', leader_only: true });
  });
});
