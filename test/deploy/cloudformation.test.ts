import { describe, expect, it } from 'vitest';
import { parseYaml, readRepoFile, run } from './helpers.js';

// deploy/cloudformation/leadgate.yaml is rendered by scripts/cloudformation.mjs from
// migrations/dynamodb/tables.json. cfn-lint (not installable from npm or Debian) runs in
// .ci/run where present; these checks run everywhere.

const TEMPLATE = 'deploy/cloudformation/leadgate.yaml';
const tables = JSON.parse(readRepoFile('migrations/dynamodb/tables.json')) as Record<string, any>;
const template = parseYaml(readRepoFile(TEMPLATE));
const resources = template.Resources as Record<string, any>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/** The DynamoDB actions src/adapters/dynamodb uses, and the SQS actions of the SQS queue adapter. */
const STORE_ACTIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan'];
const MIGRATE_ACTIONS = ['CreateTable', 'DescribeTable', 'DescribeTimeToLive', 'UpdateTable', 'UpdateTimeToLive'];
const QUEUE_ACTIONS = ['SendMessage', 'ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes', 'CreateQueue'];

function tableResource(name: string): any {
  const found = ofType('AWS::DynamoDB::Table').find(([, r]) => r.Properties.TableName['Fn::Sub'] === `leadgate-\${EnvironmentName}-${name}`);
  expect(found, `table ${name}`).toBeDefined();
  return found!;
}

/** Renders with another tables.json, through the script's own export. */
async function renderWith(tablesJson: unknown): Promise<any> {
  const code = `import('./scripts/cloudformation.mjs').then((m) => process.stdout.write(m.renderTemplate(${JSON.stringify(tablesJson)})))`;
  const result = await run('node', ['--input-type=module', '-e', code]);
  expect(result.code, result.stderr).toBe(0);
  return parseYaml(result.stdout);
}

describe('CloudFormation template', () => {
  it('is what `npm run cfn` renders from migrations/dynamodb/tables.json (run it after changing tables.json)', async () => {
    const result = await run('node', ['scripts/cloudformation.mjs', '--stdout']);
    expect(result.code, result.stderr).toBe(0);
    expect(readRepoFile(TEMPLATE), 'deploy/cloudformation/leadgate.yaml is stale: run `npm run cfn`').toBe(result.stdout);
    expect(JSON.parse(readRepoFile('package.json')).scripts.cfn).toBe('node scripts/cloudformation.mjs');
  });

  it('parses as plain YAML (long-form intrinsics, no custom tags) and takes the environment name', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(template.Parameters.EnvironmentName.Type).toBe('String');
    expect(readRepoFile(TEMPLATE)).not.toMatch(/^\s*[^#\n]*:\s+!\w+/m);
  });

  it('has every table of tables.json, same keys and indexes, on demand, with PITR and the TTL it declares', () => {
    const tableResources = ofType('AWS::DynamoDB::Table');
    expect(tableResources).toHaveLength(Object.keys(tables).length);
    for (const [name, definition] of Object.entries(tables)) {
      const [, table] = tableResource(name);
      const p = table.Properties;
      expect(p.BillingMode).toBe('PAY_PER_REQUEST');
      expect(p.KeySchema).toEqual(definition.create.KeySchema);
      expect(p.AttributeDefinitions).toEqual(definition.create.AttributeDefinitions);
      expect(p.GlobalSecondaryIndexes).toEqual(definition.create.GlobalSecondaryIndexes);
      expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      if (definition.timeToLiveAttribute) {
        expect(p.TimeToLiveSpecification).toEqual({ AttributeName: definition.timeToLiveAttribute, Enabled: true });
      } else {
        expect(p.TimeToLiveSpecification).toBeUndefined();
      }
      expect(table.DeletionPolicy).toBe('Retain');
    }
  });

  it('renders a table added to tables.json, with PITR and in the instance policy', async () => {
    const extended = await renderWith({
      ...tables,
      'audit-log': {
        create: {
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        },
        timeToLiveAttribute: 'expiresAtSec',
      },
    });
    const added = extended.Resources.AuditLogTable;
    expect(added.Properties.TableName).toEqual({ 'Fn::Sub': 'leadgate-${EnvironmentName}-audit-log' });
    expect(added.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
    expect(added.Properties.TimeToLiveSpecification.AttributeName).toBe('expiresAtSec');
    const items = extended.Resources.InstanceRole.Properties.Policies.filter((p: any) => p.PolicyDocument)
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .find((s: any) => s.Sid === 'Items');
    expect(extended.Resources.AuditLogTableThrottleAlarm.Properties.AlarmName).toEqual({ 'Fn::Sub': 'leadgate-${EnvironmentName}-audit-log-throttled' });
    expect(items.Resource).toContainEqual({ 'Fn::GetAtt': ['AuditLogTable', 'Arn'] });
  });

  it('refuses a tables.json setting it does not know how to render', async () => {
    const code = `import('./scripts/cloudformation.mjs').then((m) => m.renderTemplate({ x: { create: { KeySchema: [], AttributeDefinitions: [], StreamSpecification: {} } } }))`;
    const result = await run('node', ['--input-type=module', '-e', code]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/table "x" uses StreamSpecification/);
  });

  it('has the delivery queue with a redrive policy to its DLQ, as many receives as the SQS adapter gives emulators', () => {
    const queue = resources.DeliveryQueue.Properties;
    const dlq = resources.DeadLetterQueue.Properties;
    const adapterMax = /DEFAULT_MAX_RECEIVE_COUNT = (\d+)/.exec(readRepoFile('src/adapters/sqs/migrate.ts'))![1];
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }, maxReceiveCount: Number(adapterMax) });
    expect(queue.VisibilityTimeout).toBeGreaterThan(0);
    expect(queue.MessageRetentionPeriod).toBeGreaterThanOrEqual(2 * 24 * 3600);
    expect(dlq.MessageRetentionPeriod).toBe(1209600);
    // The adapter's convention for the DLQ's name: <queue>-dlq.
    expect(dlq.QueueName['Fn::Sub']).toBe(`${queue.QueueName['Fn::Sub']}-dlq`);
  });

  it('alarms on throttled requests of every table, reads and writes, with a runbook', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const name of Object.keys(tables)) {
      const [id] = tableResource(name);
      const alarm = alarms.find((a) => a.Metrics?.some((m: any) => JSON.stringify(m.MetricStat?.Metric.Dimensions) === JSON.stringify([{ Name: 'TableName', Value: { Ref: id } }])));
      expect(alarm, `throttle alarm of ${name}`).toBeDefined();
      const metrics = alarm.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.MetricName).sort();
      expect(metrics).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
      expect(alarm.Metrics.filter((m: any) => m.ReturnData)).toHaveLength(1);
      expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
      expect(alarm.AlarmDescription).toMatch(/docs\/runbooks\/dynamodb-throttling\.md/);
    }
  });

  it('alarms on a backlog of ready messages the workers do not drain', () => {
    const alarm = ofType('AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes('DeliveryQueue'));
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', Threshold: { Ref: 'QueueBacklogThreshold' }, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarm.AlarmDescription).toMatch(/docs\/runbooks\/queue-backlog\.md/);
  });

  it('every alarm notifies the topic the environment file gives, and says so again when resolved', () => {
    for (const [id, alarm] of ofType('AWS::CloudWatch::Alarm')) {
      const action = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };
      expect(alarm.Properties.AlarmActions, id).toEqual(action);
      expect(alarm.Properties.OKActions, id).toEqual(action);
    }
  });

  it('alarms on a non-empty DLQ and on the age of the oldest message', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const dlq = alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(dlq).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    expect(dlq.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] } }]);
    const age = alarms.find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage');
    expect(age).toMatchObject({ Namespace: 'AWS/SQS', ComparisonOperator: 'GreaterThanThreshold' });
    expect(age.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeliveryQueue', 'QueueName'] } }]);
    expect(age.Threshold).toEqual({ Ref: 'OldestMessageAgeThresholdSeconds' });
  });

  describe('instance role', () => {
    const role = resources.InstanceRole.Properties;
    const statements = role.Policies.filter((p: any) => !p['Fn::If']).flatMap((p: any) => p.PolicyDocument.Statement) as any[];
    const actions = (s: any) => [s.Action].flat() as string[];
    const resourcesOf = (s: any) => [s.Resource].flat() as unknown[];

    it('is assumed by EC2 only and carries the instance profile', () => {
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
      expect(resources.InstanceProfile.Properties.Roles).toEqual([{ Ref: 'InstanceRole' }]);
      expect(role.ManagedPolicyArns).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AWSElasticBeanstalkWebTier' }]);
    });

    /** The statements, with the conditional ones (Fn::If [condition, statement, NoValue]) taken as present. */
    const unconditional = (value: any): any => (value && value['Fn::If'] ? value['Fn::If'][1] : value);
    const allStatements = role.Policies.map(unconditional).flatMap((p: any) => p.PolicyDocument.Statement.map(unconditional)) as any[];

    it('reads exactly the secrets the environment file references, each kind only when there are some', () => {
      const secrets = role.Policies.find((p: any) => p['Fn::If'])['Fn::If'];
      expect(secrets[0]).toBe('HasSecrets');
      expect(secrets[1].PolicyName).toBe('leadgate-secrets');
      const byCondition = Object.fromEntries(secrets[1].PolicyDocument.Statement.map((s: any) => [s['Fn::If'][0], s['Fn::If'][1]]));
      expect(byCondition.HasSecretParameters).toMatchObject({ Action: ['ssm:GetParameter'], Resource: { Ref: 'SecretParameterArns' } });
      expect(byCondition.HasSecretsManagerSecrets).toMatchObject({ Action: ['secretsmanager:GetSecretValue'], Resource: { Ref: 'SecretsManagerArns' } });
      expect(byCondition.HasSecretsKmsKey).toMatchObject({ Action: ['kms:Decrypt'], Resource: [{ Ref: 'SecretsKmsKeyArn' }] });
      expect(template.Parameters.SecretParameterArns).toMatchObject({ Type: 'CommaDelimitedList', Default: '' });
      expect(template.Conditions.HasSecretParameters).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'SecretParameterArns' }] }, ''] }] });
    });

    it('allows only, never denies around, no wildcard action and no wildcard resource', () => {
      for (const s of allStatements) {
        expect(s.Effect).toBe('Allow');
        expect(s.NotAction).toBeUndefined();
        expect(s.NotResource).toBeUndefined();
        for (const action of actions(s)) expect(action, s.Sid).not.toContain('*');
        for (const resource of resourcesOf(s)) {
          expect(resource).not.toBe('*');
          // The only patterns: the indexes of our tables and our environment's log groups.
          const text = JSON.stringify(resource);
          if (text.includes('*')) expect(text).toMatch(/\.Arn}\/index\/\*"|log-group:\/aws\/elasticbeanstalk\/leadgate-\$\{EnvironmentName}\/\*"/);
        }
      }
    });

    it('grants the SQS adapter its actions on the delivery queue only', () => {
      const sqs = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
      expect(sqs.flatMap(actions).sort()).toEqual(QUEUE_ACTIONS.map((a) => `sqs:${a}`).sort());
      for (const s of sqs) expect(resourcesOf(s)).toEqual([{ 'Fn::GetAtt': ['DeliveryQueue', 'Arn'] }]);
    });

    it('grants the store its item actions on exactly our tables, Query on their indexes, migrate its checks', () => {
      const tableArns = Object.keys(tables).map((name) => ({ 'Fn::GetAtt': [tableResource(name)[0], 'Arn'] }));
      const dynamo = statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
      const allowed = new Set([...STORE_ACTIONS, ...MIGRATE_ACTIONS].map((a) => `dynamodb:${a}`));
      for (const s of dynamo) for (const action of actions(s)) expect(allowed.has(action), action).toBe(true);
      const items = dynamo.find((s) => s.Sid === 'Items');
      expect(actions(items).sort()).toEqual(STORE_ACTIONS.map((a) => `dynamodb:${a}`).sort());
      expect(resourcesOf(items)).toEqual(tableArns);
      const indexed = Object.entries(tables).filter(([, d]) => d.create.GlobalSecondaryIndexes?.length).map(([name]) => tableResource(name)[0]);
      const indexes = dynamo.find((s) => s.Sid === 'Indexes');
      expect(actions(indexes)).toEqual(['dynamodb:Query']);
      expect(resourcesOf(indexes)).toEqual(indexed.map((id) => ({ 'Fn::Sub': `\${${id}.Arn}/index/*` })));
      const migrate = dynamo.find((s) => s.Sid === 'Migrate');
      expect(resourcesOf(migrate)).toEqual(tableArns);
    });

    it('grants log streaming to the environment log groups only', () => {
      const logs = statements.filter((s) => actions(s).some((a) => a.startsWith('logs:')));
      expect(logs.flatMap(actions).sort()).toEqual(['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents']);
      const services = new Set(allStatements.flatMap(actions).map((a) => a.split(':')[0]));
      expect([...services].sort()).toEqual(['dynamodb', 'kms', 'logs', 'secretsmanager', 'sqs', 'ssm']);
    });
  });

  it('has an Elastic Beanstalk service role, assumed by EB only', () => {
    const role = resources.ServiceRole.Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'elasticbeanstalk.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    expect(role.Policies).toBeUndefined();
    expect(template.Outputs.ServiceRoleArn.Value).toEqual({ 'Fn::GetAtt': ['ServiceRole', 'Arn'] });
  });

  it('takes every Stack key of the environment files as a parameter', () => {
    for (const name of ['staging', 'production']) {
      const file = JSON.parse(readRepoFile(`deploy/environments/${name}.json`));
      for (const key of Object.keys(file.Stack)) expect(template.Parameters, key).toHaveProperty(key);
    }
  });

  it('outputs the queue URL, the table prefix and the instance profile', () => {
    expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(['QueueUrl', 'TablePrefix', 'InstanceProfileName']));
    expect(template.Outputs.QueueUrl.Value).toEqual({ Ref: 'DeliveryQueue' });
    expect(template.Outputs.TablePrefix.Value).toEqual({ 'Fn::Sub': 'leadgate-${EnvironmentName}' });
    expect(template.Outputs.InstanceProfileName.Value).toEqual({ Ref: 'InstanceProfile' });
  });
});
