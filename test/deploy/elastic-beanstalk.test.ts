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
  it('every file is YAML with only option_settings, container_commands, files, commands or Resources', () => {
    expect(configFiles.length).toBeGreaterThan(0);
    for (const { name, doc } of configs) {
      expect(Object.keys(doc).every((key) => ['option_settings', 'container_commands', 'files', 'commands', 'Resources'].includes(key)), name).toBe(true);
    }
  });

  it('requires IMDSv2 on the instances', () => {
    expect(option('aws:autoscaling:launchconfiguration', 'DisableIMDSv1')).toBe(true);
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

  it('keeps instances in two zones and scales on CPU and the delivery backlog by target tracking', () => {
    expect(option('aws:autoscaling:asg', 'Availability Zones')).toMatch(/^Any( [2-9])?$/);
    expect(option('aws:autoscaling:asg', 'Availability Zones')).not.toBe('Any 1');
    const resources = Object.assign({}, ...configs.map(({ doc }) => doc.Resources ?? {}));
    const policies = Object.values(resources).filter((r: any) => r.Type === 'AWS::AutoScaling::ScalingPolicy') as any[];
    for (const policy of policies) {
      expect(policy.Properties.PolicyType).toBe('TargetTrackingScaling');
      expect(policy.Properties.AutoScalingGroupName).toEqual({ Ref: 'AWSEBAutoScalingGroup' });
    }
    const cpu = policies.find((p) => p.Properties.TargetTrackingConfiguration.PredefinedMetricSpecification);
    expect(cpu.Properties.TargetTrackingConfiguration).toEqual({ PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' }, TargetValue: 50 });
    const backlog = policies.find((p) => p.Properties.TargetTrackingConfiguration.CustomizedMetricSpecification);
    const metrics = backlog.Properties.TargetTrackingConfiguration.CustomizedMetricSpecification.Metrics as any[];
    const ready = metrics.find((m) => m.MetricStat?.Metric.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(ready.MetricStat.Metric.Dimensions).toEqual([
      { Name: 'QueueName', Value: { 'Fn::GetOptionSetting': { Namespace: 'aws:elasticbeanstalk:customoption', OptionName: 'DeliveryQueueName' } } },
    ]);
    const instances = metrics.find((m) => m.MetricStat?.Metric.MetricName === 'GroupInServiceInstances');
    expect(instances.MetricStat.Metric.Namespace).toBe('AWS/AutoScaling');
    const returned = metrics.filter((m) => m.ReturnData);
    expect(returned).toHaveLength(1);
    expect(returned[0].Expression).toBe(`${ready.Id} / ${instances.Id}`);
    // The denominator is only published when the group collects it.
    expect(resources.AWSEBAutoScalingGroup.Properties.MetricsCollection[0].Metrics).toContain('GroupInServiceInstances');
    // EB's own trigger stays (it cannot be removed): CPU, never scaling in by itself.
    expect(options.get('aws:autoscaling:trigger')).toMatchObject({ MeasureName: 'CPUUtilization', Unit: 'Percent', LowerThreshold: '0' });
    expect(Number(option('aws:autoscaling:trigger', 'UpperThreshold'))).toBeGreaterThan(cpu.Properties.TargetTrackingConfiguration.TargetValue);
  });

  it('alarms on load-balancer 5xx, to the environment topic', () => {
    const resources = Object.assign({}, ...configs.map(({ doc }) => doc.Resources ?? {}));
    const alarm = Object.values(resources).find((r: any) => r.Type === 'AWS::CloudWatch::Alarm') as any;
    const names = (alarm.Properties.Metrics as any[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName);
    expect(names.sort()).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
    expect(alarm.Properties.AlarmActions).toEqual([{ 'Fn::GetOptionSetting': { Namespace: 'aws:elasticbeanstalk:customoption', OptionName: 'AlarmTopicArn' } }]);
    expect(alarm.Properties.AlarmDescription).toMatch(/docs\/runbooks\/alb-5xx\.md/);
  });

  it('redirects HTTP to HTTPS on the load balancer, and lets only the scrape subnet reach the ops listeners', () => {
    const resources = Object.assign({}, ...configs.map(({ doc }) => doc.Resources ?? {})) as Record<string, any>;
    const http = resources.AWSEBV2LoadBalancerListener;
    expect(http.Type).toBe('AWS::ElasticLoadBalancingV2::Listener');
    expect(http.Properties).toMatchObject({ Port: 80, Protocol: 'HTTP', LoadBalancerArn: { Ref: 'AWSEBV2LoadBalancer' } });
    expect(http.Properties.DefaultActions).toEqual([
      { Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } },
    ]);
    const ingress = Object.values(resources).filter((r: any) => r.Type === 'AWS::EC2::SecurityGroupIngress') as any[];
    expect(ingress).toHaveLength(1);
    expect(ingress[0].Properties).toMatchObject({
      GroupId: { 'Fn::GetAtt': ['AWSEBSecurityGroup', 'GroupId'] },
      FromPort: 9464,
      ToPort: 9465,
      CidrIp: { 'Fn::GetOptionSetting': { Namespace: 'aws:elasticbeanstalk:customoption', OptionName: 'OpsScrapeCidr' } },
    });
    // The api's ops listener and the worker's are the two ports the rule opens, bound for the scrape.
    const environment = options.get('aws:elasticbeanstalk:application:environment') as Record<string, string>;
    expect([environment.LEADGATE_OPS_PORT, environment.LEADGATE_WORKER_METRICS_PORT, environment.LEADGATE_OPS_HOST]).toEqual(['9464', '9465', '0.0.0.0']);
    // The ALB's process is the public listener's port (nginx → PORT), never an ops port.
    expect(option('aws:elasticbeanstalk:environment:process:default', 'Port')).toBe('80');
    expect(environment.PORT).toBe('8080');
  });

  it('streams logs to CloudWatch and keeps them after termination', () => {
    expect(options.get('aws:elasticbeanstalk:cloudwatch:logs')).toMatchObject({ StreamLogs: 'true', DeleteOnTerminate: 'false' });
  });

  it("ships the api's and the worker's JSON lines to their own log groups (those the stack creates with a retention)", () => {
    const logs = configs.find(({ name }) => name === '05-logs.config')!.doc;
    const agent = logs.files['/opt/aws/amazon-cloudwatch-agent/etc/leadgate-logs.json'].content as string;
    // The group names are CloudFormation expressions EB fills in; parse with them replaced.
    const parsed = JSON.parse(agent.replace(/`\{"Fn::Join".*?"(leadgate\/\w+\.json)"\]\]\}`/g, '/aws/elasticbeanstalk/leadgate-env/$1'));
    const collected = parsed.logs.logs_collected.files.collect_list as any[];
    expect(collected.map((c) => [c.file_path, c.log_group_name])).toEqual([
      ['/var/log/leadgate/web.json', '/aws/elasticbeanstalk/leadgate-env/leadgate/web.json'],
      ['/var/log/leadgate/worker.json', '/aws/elasticbeanstalk/leadgate-env/leadgate/worker.json'],
    ]);
    const rsyslog = logs.files['/etc/rsyslog.d/10-leadgate-json.conf'].content as string;
    for (const process of ['web', 'worker']) expect(rsyslog).toContain(`if $programname == '${process}' then { action(type="omfile" file="/var/log/leadgate/${process}.json"`);
    expect(Object.values(logs.commands).map((c: any) => c.command).join('\n')).toMatch(/amazon-cloudwatch-agent-ctl -a append-config .*leadgate-logs\.json/);
    const template = parseYaml(readRepoFile('deploy/cloudformation/leadgate.yaml'));
    for (const process of ['Web', 'Worker']) {
      expect(template.Resources[`${process}LogGroup`].Properties).toEqual({
        LogGroupName: { 'Fn::Sub': `/aws/elasticbeanstalk/leadgate-\${EnvironmentName}/leadgate/${process.toLowerCase()}.json` },
        RetentionInDays: { Ref: 'LogRetentionDays' },
      });
    }
  });

  it('sets the shared environment properties, valid for leadgate, and no secrets', () => {
    const environment = options.get('aws:elasticbeanstalk:application:environment') as Record<string, string>;
    for (const name of ['LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'LEADGATE_CONFIG', 'PORT']) expect(environment[name], name).toBeTruthy();
    // leadgate's own validation accepts them (the platform's NODE_ENV aside).
    const env = loadEnv(Object.fromEntries(Object.entries(environment).filter(([name]) => name !== 'NODE_ENV')));
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
