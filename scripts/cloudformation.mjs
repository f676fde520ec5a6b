// `npm run cfn`: renders deploy/cloudformation/leadgate.yaml. The DynamoDB tables come from
// migrations/dynamodb/tables.json (the one definition `leadgate migrate` also reads), so a
// table or index added there reaches the template by running this script;
// test/deploy/cloudformation.test.ts fails while the committed template differs from what
// this script renders.
//
// The template uses the long form of the intrinsic functions ({"Fn::Sub": ...}, {"Ref": ...})
// rather than YAML tags (!Sub, !Ref): any YAML parser reads it, no custom tags needed.
//
// usage: node scripts/cloudformation.mjs            write the template
//        node scripts/cloudformation.mjs --stdout   print it
//        node scripts/cloudformation.mjs --check    exit 1 when the committed copy is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Scalar, stringify } from 'yaml';

const root = join(import.meta.dirname, '..');
const TABLES_FILE = join(root, 'migrations/dynamodb/tables.json');
export const TEMPLATE_FILE = join(root, 'deploy/cloudformation/leadgate.yaml');

// Receives before SQS moves a message to the DLQ: the value src/adapters/sqs/
// job-queue.sqs.migrate.ts gives emulators, far above the default schedule's 8 receives.
const MAX_RECEIVE_COUNT = 20;
// A retry reuses its message (visibility set to the retry time), and the default schedule
// spans about 28 h: 4 days keeps every message of a slow schedule; the DLQ keeps 14 days.
const QUEUE_RETENTION_SEC = 4 * 24 * 3600;
const DLQ_RETENTION_SEC = 14 * 24 * 3600;

const sub = (text) => ({ 'Fn::Sub': text });
const ref = (name) => ({ Ref: name });
const getAtt = (resource, attribute) => ({ 'Fn::GetAtt': [resource, attribute] });
const quoted = (text) => Object.assign(new Scalar(text), { type: Scalar.QUOTE_DOUBLE });

/** CreateTable input keys the generator knows how to carry over; anything else is an error. */
const TABLE_KEYS = new Set(['AttributeDefinitions', 'KeySchema', 'GlobalSecondaryIndexes', 'LocalSecondaryIndexes', 'BillingMode']);

function logicalId(tableName) {
  const pascal = tableName
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
  return `${pascal}Table`;
}

function tableResource(name, definition) {
  const create = definition.create ?? {};
  const unknown = Object.keys(create).filter((key) => !TABLE_KEYS.has(key));
  if (unknown.length > 0) {
    throw new Error(`tables.json: table "${name}" uses ${unknown.join(', ')}: teach scripts/cloudformation.mjs to render it`);
  }
  if (create.BillingMode && create.BillingMode !== 'PAY_PER_REQUEST') {
    throw new Error(`tables.json: table "${name}" is not PAY_PER_REQUEST`);
  }
  const properties = {
    TableName: sub(`leadgate-\${EnvironmentName}-${name}`),
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: create.AttributeDefinitions,
    KeySchema: create.KeySchema,
  };
  if (create.GlobalSecondaryIndexes?.length) properties.GlobalSecondaryIndexes = create.GlobalSecondaryIndexes;
  if (create.LocalSecondaryIndexes?.length) properties.LocalSecondaryIndexes = create.LocalSecondaryIndexes;
  if (definition.timeToLiveAttribute) {
    properties.TimeToLiveSpecification = { AttributeName: definition.timeToLiveAttribute, Enabled: true };
  }
  properties.PointInTimeRecoverySpecification = { PointInTimeRecoveryEnabled: true };
  properties.DeletionProtectionEnabled = true;
  properties.Tags = [{ Key: 'application', Value: 'leadgate' }, { Key: 'environment', Value: ref('EnvironmentName') }];
  // Leads are money: deleting the stack, or a change that would replace a table, keeps the data.
  return { Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: properties };
}

const alarmActions = () => ({
  AlarmActions: { 'Fn::If': ['HasAlarmTopic', [ref('AlarmTopicArn')], ref('AWS::NoValue')] },
  OKActions: { 'Fn::If': ['HasAlarmTopic', [ref('AlarmTopicArn')], ref('AWS::NoValue')] },
});
const nonEmptyList = (name) => ({ 'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', ref(name)] }, ''] }] });
const ifCondition = (condition, value) => ({ 'Fn::If': [condition, value, ref('AWS::NoValue')] });

/** Read or write requests DynamoDB refused for capacity on one table (its indexes included). */
function throttleAlarm(name, id) {
  const metric = (queryId, metricName) => ({
    Id: queryId,
    ReturnData: false,
    MetricStat: {
      Metric: { Namespace: 'AWS/DynamoDB', MetricName: metricName, Dimensions: [{ Name: 'TableName', Value: ref(id) }] },
      Period: 300,
      Stat: 'Sum',
    },
  });
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: sub(`leadgate-\${EnvironmentName}-${name}-throttled`),
      AlarmDescription: `DynamoDB throttled requests on the ${name} table (on-demand tables throttle past their table or account limits, or on a hot partition): ingest answers 503 and deliveries retry. Runbook: docs/runbooks/dynamodb-throttling.md`,
      Metrics: [
        metric('reads', 'ReadThrottleEvents'),
        metric('writes', 'WriteThrottleEvents'),
        { Id: 'throttled', Expression: 'FILL(reads, 0) + FILL(writes, 0)', Label: 'throttle events', ReturnData: true },
      ],
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      ...alarmActions(),
    },
  };
}

function logGroup(process) {
  return {
    Type: 'AWS::Logs::LogGroup',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      LogGroupName: sub(`/aws/elasticbeanstalk/leadgate-\${EnvironmentName}/leadgate/${process}.json`),
      RetentionInDays: ref('LogRetentionDays'),
    },
  };
}

function queueAlarm({ name, description, queue, metric, threshold, periods }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: sub(`leadgate-\${EnvironmentName}-${name}`),
      AlarmDescription: description,
      Namespace: 'AWS/SQS',
      MetricName: metric,
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: periods,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      ...alarmActions(),
    },
  };
}

export function renderTemplate(tables = JSON.parse(readFileSync(TABLES_FILE, 'utf8'))) {
  const tableIds = Object.keys(tables).map((name) => [name, logicalId(name)]);
  const tableResources = Object.fromEntries(tableIds.map(([name, id]) => [id, tableResource(name, tables[name])]));
  const indexedTables = tableIds.filter(([name]) => {
    const create = tables[name].create ?? {};
    return (create.GlobalSecondaryIndexes?.length ?? 0) + (create.LocalSecondaryIndexes?.length ?? 0) > 0;
  });

  const template = {
    // Quoted: a YAML 1.1 reader would take the bare form for a date.
    AWSTemplateFormatVersion: quoted('2010-09-09'),
    Description:
      'leadgate: the SQS delivery queue and its dead-letter queue, the DynamoDB tables, alarms and the instance profile of one Elastic Beanstalk environment',
    Parameters: {
      EnvironmentName: {
        Type: 'String',
        Description:
          'staging, production, ...: names every resource (leadgate-<name>-...) and the Elastic Beanstalk environment leadgate-<name>',
        AllowedPattern: '^[a-z][a-z0-9-]{1,20}$',
        Default: 'production',
      },
      OldestMessageAgeThresholdSeconds: {
        Type: 'Number',
        Description:
          'Alarm when the oldest message of the delivery queue is older than this. A delivery in retry keeps its message, so this is also how long a CRM may fail before someone is told.',
        Default: 3600,
        MinValue: 60,
      },
      QueueBacklogThreshold: {
        Type: 'Number',
        Description:
          'Alarm when this many delivery messages wait, ready, for 15 minutes: the workers do not keep up even after scaling out (retries waiting for their time are not counted).',
        Default: 5000,
        MinValue: 1,
      },
      AlarmTopicArn: {
        Type: 'String',
        Description: 'SNS topic the alarms notify (deploy/environments/<env>.json Stack.AlarmTopicArn); empty for none',
        Default: '',
      },
      LogRetentionDays: {
        Type: 'Number',
        Description: 'Days CloudWatch Logs keeps the web and worker JSON logs',
        Default: 30,
        AllowedValues: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
      },
      SecretParameterArns: {
        Type: 'CommaDelimitedList',
        Description:
          'SSM parameters the instances read at start (EB environment secrets): exactly the ARNs in deploy/environments/<env>.json, rendered by scripts/eb-environment.mjs',
        Default: '',
      },
      SecretsManagerArns: {
        Type: 'CommaDelimitedList',
        Description: 'Secrets Manager secrets the instances read at start (EB environment secrets), likewise',
        Default: '',
      },
      SecretsKmsKeyArn: {
        Type: 'String',
        Description: 'The customer managed KMS key of those parameters and secrets; empty when they use the AWS managed keys',
        Default: '',
      },
    },
    Conditions: {
      HasAlarmTopic: { 'Fn::Not': [{ 'Fn::Equals': [ref('AlarmTopicArn'), ''] }] },
      HasSecretParameters: nonEmptyList('SecretParameterArns'),
      HasSecretsManagerSecrets: nonEmptyList('SecretsManagerArns'),
      HasSecretsKmsKey: { 'Fn::Not': [{ 'Fn::Equals': [ref('SecretsKmsKeyArn'), ''] }] },
      HasSecrets: { 'Fn::Or': [{ Condition: 'HasSecretParameters' }, { Condition: 'HasSecretsManagerSecrets' }] },
    },
    Resources: {
      DeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: sub('leadgate-${EnvironmentName}-deliveries-dlq'),
          MessageRetentionPeriod: DLQ_RETENTION_SEC,
          SqsManagedSseEnabled: true,
        },
      },
      DeliveryQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: sub('leadgate-${EnvironmentName}-deliveries'),
          // Workers set their own visibility (the job lease) on every receive; this is the fallback.
          VisibilityTimeout: 60,
          MessageRetentionPeriod: QUEUE_RETENTION_SEC,
          ReceiveMessageWaitTimeSeconds: 20,
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: getAtt('DeadLetterQueue', 'Arn'), maxReceiveCount: MAX_RECEIVE_COUNT },
        },
      },
      ...tableResources,
      DeadLetterQueueAlarm: queueAlarm({
        name: 'dlq-not-empty',
        description:
          'A delivery message was received 20 times without being handled and moved to the dead-letter queue: a worker keeps failing on it. The store still holds the delivery (the sweeper re-announces it); look at the worker logs. Runbook: docs/runbooks/dlq-not-empty.md',
        queue: 'DeadLetterQueue',
        metric: 'ApproximateNumberOfMessagesVisible',
        threshold: 0,
        periods: 1,
      }),
      OldestMessageAgeAlarm: queueAlarm({
        name: 'queue-oldest-message-age',
        description:
          'The oldest delivery message is older than the threshold: workers are not consuming, or a CRM has failed for that long. Runbook: docs/runbooks/queue-backlog.md',
        queue: 'DeliveryQueue',
        metric: 'ApproximateAgeOfOldestMessage',
        threshold: ref('OldestMessageAgeThresholdSeconds'),
        periods: 2,
      }),
      QueueBacklogAlarm: queueAlarm({
        name: 'queue-backlog',
        description:
          'Delivery messages ready for a worker have stayed above the threshold for 15 minutes: the workers do not keep up although the backlog policy scales them out (at MaxSize?). Runbook: docs/runbooks/queue-backlog.md',
        queue: 'DeliveryQueue',
        metric: 'ApproximateNumberOfMessagesVisible',
        threshold: ref('QueueBacklogThreshold'),
        periods: 3,
      }),
      ...Object.fromEntries(tableIds.map(([name, id]) => [`${id}ThrottleAlarm`, throttleAlarm(name, id)])),
      WebLogGroup: logGroup('web'),
      WorkerLogGroup: logGroup('worker'),
      InstanceRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Description: 'leadgate instances: the delivery queue, the tables, log streaming, their own secrets',
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          // Enhanced health reporting (PutInstanceStatistics), log bundles to the EB bucket.
          ManagedPolicyArns: [sub('arn:${AWS::Partition}:iam::aws:policy/AWSElasticBeanstalkWebTier')],
          Policies: [
            {
              PolicyName: 'leadgate-queue',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    // What src/adapters/sqs/*.ts calls (batch calls authorise as
                    // their single forms); CreateQueue and GetQueueAttributes are migrate's check.
                    // Nothing on the DLQ: only SQS writes there, and replay goes through the store.
                    Sid: 'DeliveryQueue',
                    Effect: 'Allow',
                    Action: [
                      'sqs:ChangeMessageVisibility',
                      'sqs:CreateQueue',
                      'sqs:DeleteMessage',
                      'sqs:GetQueueAttributes',
                      'sqs:ReceiveMessage',
                      'sqs:SendMessage',
                    ],
                    Resource: [getAtt('DeliveryQueue', 'Arn')],
                  },
                ],
              },
            },
            {
              PolicyName: 'leadgate-store',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    // What src/adapters/dynamodb/ calls (TransactWriteItems authorises as
                    // the Put/Update/Delete it holds).
                    Sid: 'Items',
                    Effect: 'Allow',
                    Action: [
                      'dynamodb:DeleteItem',
                      'dynamodb:GetItem',
                      'dynamodb:PutItem',
                      'dynamodb:Query',
                      'dynamodb:Scan',
                      'dynamodb:UpdateItem',
                    ],
                    Resource: tableIds.map(([, id]) => getAtt(id, 'Arn')),
                  },
                  ...(indexedTables.length
                    ? [
                        {
                          Sid: 'Indexes',
                          Effect: 'Allow',
                          Action: ['dynamodb:Query'],
                          Resource: indexedTables.map(([, id]) => sub(`\${${id}.Arn}/index/*`)),
                        },
                      ]
                    : []),
                  {
                    // `leadgate migrate` (.ebextensions/06-migrate.config): it finds these tables
                    // and their TTL in place and changes nothing, but asks through these calls.
                    Sid: 'Migrate',
                    Effect: 'Allow',
                    Action: [
                      'dynamodb:CreateTable',
                      'dynamodb:DescribeTable',
                      'dynamodb:DescribeTimeToLive',
                      'dynamodb:UpdateTable',
                      'dynamodb:UpdateTimeToLive',
                    ],
                    Resource: tableIds.map(([, id]) => getAtt(id, 'Arn')),
                  },
                ],
              },
            },
            {
              PolicyName: 'leadgate-logs',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    // Log streaming (.ebextensions/05-logs.config) into this environment's groups.
                    Sid: 'StreamLogs',
                    Effect: 'Allow',
                    Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
                    Resource: [
                      sub(
                        'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/elasticbeanstalk/leadgate-${EnvironmentName}/*',
                      ),
                    ],
                  },
                ],
              },
            },
            {
              // EB environment secrets (aws:elasticbeanstalk:application:environmentsecrets):
              // the platform reads them with the instance role at bootstrap, exactly these.
              PolicyName: 'leadgate-secrets',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  ifCondition('HasSecretParameters', { Sid: 'Parameters', Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: ref('SecretParameterArns') }),
                  ifCondition('HasSecretsManagerSecrets', {
                    Sid: 'Secrets',
                    Effect: 'Allow',
                    Action: ['secretsmanager:GetSecretValue'],
                    Resource: ref('SecretsManagerArns'),
                  }),
                  ifCondition('HasSecretsKmsKey', { Sid: 'Decrypt', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [ref('SecretsKmsKeyArn')] }),
                ],
              },
            },
          ].map((policy) => (policy.PolicyName === 'leadgate-secrets' ? ifCondition('HasSecrets', policy) : policy)),
          Tags: [{ Key: 'application', Value: 'leadgate' }, { Key: 'environment', Value: ref('EnvironmentName') }],
        },
      },
      InstanceProfile: {
        Type: 'AWS::IAM::InstanceProfile',
        Properties: { Roles: [ref('InstanceRole')] },
      },
      ServiceRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Description: 'Elastic Beanstalk itself, for the environment leadgate-<name>: enhanced health, managed updates',
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'elasticbeanstalk.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          ManagedPolicyArns: [
            sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth'),
            sub('arn:${AWS::Partition}:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy'),
          ],
          Tags: [{ Key: 'application', Value: 'leadgate' }, { Key: 'environment', Value: ref('EnvironmentName') }],
        },
      },
    },
    Outputs: {
      QueueUrl: {
        Description: 'SQS_QUEUE_URL of the environment',
        Value: ref('DeliveryQueue'),
        Export: { Name: sub('${AWS::StackName}-QueueUrl') },
      },
      DeadLetterQueueUrl: { Description: 'the dead-letter queue, for inspection', Value: ref('DeadLetterQueue') },
      TablePrefix: {
        Description: 'DYNAMODB_TABLE_PREFIX of the environment',
        Value: sub('leadgate-${EnvironmentName}'),
        Export: { Name: sub('${AWS::StackName}-TablePrefix') },
      },
      InstanceProfileName: {
        Description: 'IamInstanceProfile (aws:autoscaling:launchconfiguration) of the environment',
        Value: ref('InstanceProfile'),
        Export: { Name: sub('${AWS::StackName}-InstanceProfile') },
      },
      ServiceRoleArn: {
        Description: 'ServiceRole (aws:elasticbeanstalk:environment) of the environment',
        Value: getAtt('ServiceRole', 'Arn'),
      },
    },
  };

  const header = [
    'Generated by scripts/cloudformation.mjs from migrations/dynamodb/tables.json: do not edit,',
    'run `npm run cfn` (test/deploy/cloudformation.test.ts fails while this copy is stale).',
    'Deployed by deploy/eb-deploy.sh <env>, with the parameters of deploy/environments/<env>.json',
    '(node scripts/eb-environment.mjs <env> stack-parameters).',
  ];
  return `${header.map((line) => `# ${line}`).join('\n')}\n${stringify(template, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

const isMain = process.argv[1] && import.meta.filename === process.argv[1];
if (isMain) {
  const { values } = parseArgs({ options: { stdout: { type: 'boolean' }, check: { type: 'boolean' } } });
  const rendered = renderTemplate();
  if (values.stdout) {
    process.stdout.write(rendered);
  } else if (values.check) {
    if (readFileSync(TEMPLATE_FILE, 'utf8') !== rendered) {
      console.error('deploy/cloudformation/leadgate.yaml is stale: run `npm run cfn`');
      process.exit(1);
    }
  } else {
    writeFileSync(TEMPLATE_FILE, rendered);
    console.log(`wrote deploy/cloudformation/leadgate.yaml (${Object.keys(JSON.parse(readFileSync(TABLES_FILE, 'utf8'))).length} tables)`);
  }
}
