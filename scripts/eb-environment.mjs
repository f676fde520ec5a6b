// deploy/environments/<env>.json: everything that differs between staging and production, the
// one place deploy/eb-deploy.sh (Jenkins, CodePipeline's deploy action, a person) takes it from.
// The bundle (.ebextensions) holds nothing environment-specific.
//
//   EnvironmentName   names the stack leadgate-<name>, its resources and the EB environment
//   Region            where both live
//   Stack             parameters of deploy/cloudformation/leadgate.yaml (AlarmTopicArn, ...)
//   OptionSettings    Elastic Beanstalk option settings, as `aws elasticbeanstalk
//                     update-environment --option-settings file://...` takes them
//
// This script checks a file and renders what the AWS CLI needs from it, adding what follows
// from the file rather than repeating it: the secrets' ARNs for the instance role (so it reads
// exactly the referenced parameters and secrets), and the custom options .ebextensions reads
// through Fn::GetOptionSetting (alarm topic, queue name).
//
// usage: node scripts/eb-environment.mjs <env> check              exit 1 naming every problem
//        node scripts/eb-environment.mjs <env> option-settings    JSON for --option-settings
//        node scripts/eb-environment.mjs <env> stack-parameters   Key=Value lines for
//                                                                 cloudformation deploy --parameter-overrides
//        node scripts/eb-environment.mjs <env> get <Key>          Region, EnvironmentName, or an environment property
// A path ending in .json may stand for <env>.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

export const ENVIRONMENT = 'aws:elasticbeanstalk:application:environment';
export const SECRETS = 'aws:elasticbeanstalk:application:environmentsecrets';
export const CUSTOM = 'aws:elasticbeanstalk:customoption';

/** Settings every environment file gives (namespace/option). */
export const REQUIRED = [
  `${ENVIRONMENT}/AWS_REGION`,
  `${ENVIRONMENT}/LEADGATE_STORE`,
  `${ENVIRONMENT}/LEADGATE_QUEUE`,
  `${ENVIRONMENT}/DYNAMODB_TABLE_PREFIX`,
  `${SECRETS}/LEADGATE_ADMIN_TOKEN`,
  `${SECRETS}/LEADGATE_PRIVACY_KEY`,
  'aws:elbv2:listener:443/SSLCertificateArns',
  'aws:ec2:instances/InstanceTypes',
  'aws:autoscaling:asg/MinSize',
  'aws:autoscaling:asg/MaxSize',
];
const STACK_KEYS = new Set(['AlarmTopicArn', 'OldestMessageAgeThresholdSeconds', 'QueueBacklogThreshold', 'LogRetentionDays', 'SecretsKmsKeyArn']);
/** A value someone still has to supply: <account-id>, <production-certificate-id>, ... */
const PLACEHOLDER = /<[a-z0-9-]+>/g;
const SSM_PARAMETER = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:(\d{12}|<account-id>):parameter\/[\w./-]+$/;
const SECRETS_MANAGER = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:(\d{12}|<account-id>):secret:[\w/+=.@-]+$/;
/** Names that must come through environmentsecrets, never as plain environment properties. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PRIVACY_KEY|_KEY$|REDIS_URL/;

export function environmentFile(nameOrPath) {
  return nameOrPath.endsWith('.json') ? nameOrPath : join(root, 'deploy/environments', `${nameOrPath}.json`);
}

export function loadEnvironment(nameOrPath) {
  return JSON.parse(readFileSync(environmentFile(nameOrPath), 'utf8'));
}

const settingsOf = (file, namespace) =>
  Object.fromEntries(file.OptionSettings.filter((s) => s.Namespace === namespace).map((s) => [s.OptionName, s.Value]));

/** Every problem of a file; placeholders are reported apart (a template is otherwise valid). */
export function problems(file) {
  const found = [];
  const placeholders = new Set();
  const visit = (value) => {
    if (typeof value === 'string') for (const [match] of value.matchAll(PLACEHOLDER)) placeholders.add(match);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(file);
  if (!/^[a-z][a-z0-9-]{1,20}$/.test(file.EnvironmentName ?? '')) found.push('EnvironmentName: [a-z][a-z0-9-]{1,20}');
  if (!/^[a-z]{2}-[a-z]+-\d$/.test(file.Region ?? '')) found.push('Region: an AWS region');
  if (!/^(<ops-scrape-cidr>|\d{1,3}(\.\d{1,3}){3}\/\d{1,2})$/.test(file.OpsScrapeCidr ?? '') || file.OpsScrapeCidr === '0.0.0.0/0') {
    found.push("OpsScrapeCidr: the IPv4 CIDR Prometheus scrapes from (never 0.0.0.0/0: the ops listeners serve the admin API)");
  }
  for (const key of Object.keys(file.Stack ?? {})) if (!STACK_KEYS.has(key)) found.push(`Stack.${key}: not a parameter of leadgate.yaml`);
  if (!Array.isArray(file.OptionSettings)) return { problems: [...found, 'OptionSettings: a list'], placeholders: [...placeholders] };

  const seen = new Set();
  for (const s of file.OptionSettings) {
    const key = `${s.Namespace}/${s.OptionName}`;
    if (Object.keys(s).sort().join() !== 'Namespace,OptionName,Value' || typeof s.Value !== 'string') found.push(`${key}: {Namespace, OptionName, Value} with a string Value`);
    if (seen.has(key)) found.push(`${key}: set twice`);
    seen.add(key);
    if (s.Namespace === CUSTOM) found.push(`${key}: derived by scripts/eb-environment.mjs, do not set it`);
  }
  for (const key of REQUIRED) if (!seen.has(key)) found.push(`${key}: missing`);

  const env = settingsOf(file, ENVIRONMENT);
  const secrets = settingsOf(file, SECRETS);
  for (const name of Object.keys(env)) if (SECRET_NAME.test(name)) found.push(`${ENVIRONMENT}/${name}: a secret, set it in ${SECRETS}`);
  for (const [name, arn] of Object.entries(secrets)) {
    if (!SSM_PARAMETER.test(arn) && !SECRETS_MANAGER.test(arn)) found.push(`${SECRETS}/${name}: an SSM parameter or Secrets Manager secret ARN`);
    if (name in env) found.push(`${name}: both a property and a secret`);
  }
  if (env.AWS_REGION && env.AWS_REGION !== file.Region) found.push(`${ENVIRONMENT}/AWS_REGION: differs from Region`);
  const prefix = `leadgate-${file.EnvironmentName}`;
  if (env.DYNAMODB_TABLE_PREFIX !== undefined && env.DYNAMODB_TABLE_PREFIX !== prefix) found.push(`${ENVIRONMENT}/DYNAMODB_TABLE_PREFIX: ${prefix} (the stack's TablePrefix)`);
  if (env.LEADGATE_QUEUE === 'sqs') {
    const url = new RegExp(`^https://sqs\\.${file.Region}\\.amazonaws\\.com/(\\d{12}|<account-id>)/${prefix}-deliveries$`);
    if (!url.test(env.SQS_QUEUE_URL ?? '')) found.push(`${ENVIRONMENT}/SQS_QUEUE_URL: https://sqs.${file.Region}.amazonaws.com/<account-id>/${prefix}-deliveries (the stack's QueueUrl)`);
  } else if (env.LEADGATE_QUEUE === 'bullmq') {
    if (!secrets.REDIS_URL) found.push(`${SECRETS}/REDIS_URL: required with LEADGATE_QUEUE=bullmq (it may hold a password)`);
  } else {
    found.push(`${ENVIRONMENT}/LEADGATE_QUEUE: sqs or bullmq`);
  }
  if (env.LEADGATE_STORE !== 'dynamodb') found.push(`${ENVIRONMENT}/LEADGATE_STORE: dynamodb (instances share no disk)`);
  const asg = settingsOf(file, 'aws:autoscaling:asg');
  if (!(Number(asg.MinSize) >= 2)) found.push('aws:autoscaling:asg/MinSize: at least 2 (one per zone)');
  if (!(Number(asg.MaxSize) >= Number(asg.MinSize))) found.push('aws:autoscaling:asg/MaxSize: at least MinSize');
  if (!/^arn:aws[a-z-]*:sns:/.test(file.Stack?.AlarmTopicArn ?? '')) found.push('Stack.AlarmTopicArn: an SNS topic ARN (alarms must reach someone)');
  return { problems: found, placeholders: [...placeholders].sort() };
}

/** What EB receives: the file's settings plus the custom options .ebextensions reads. */
export function optionSettings(file) {
  const env = settingsOf(file, ENVIRONMENT);
  const derived = [{ Namespace: CUSTOM, OptionName: 'AlarmTopicArn', Value: file.Stack.AlarmTopicArn }];
  // The backlog scaling policy's queue; on BullMQ there is none, and the policy sees no data.
  const queueName = env.LEADGATE_QUEUE === 'sqs' ? env.SQS_QUEUE_URL.split('/').at(-1) : `leadgate-${file.EnvironmentName}-deliveries`;
  derived.push({ Namespace: CUSTOM, OptionName: 'DeliveryQueueName', Value: queueName });
  // Who may reach the ops listeners (9464 api, 9465 worker): Prometheus's subnet, never the internet.
  derived.push({ Namespace: CUSTOM, OptionName: 'OpsScrapeCidr', Value: file.OpsScrapeCidr });
  // EB's own log streaming keeps the platform logs as long as the stack keeps leadgate's.
  derived.push({ Namespace: 'aws:elasticbeanstalk:cloudwatch:logs', OptionName: 'RetentionInDays', Value: String(file.Stack.LogRetentionDays ?? 30) });
  derived.push({ Namespace: 'aws:elasticbeanstalk:cloudwatch:logs:health', OptionName: 'RetentionInDays', Value: String(file.Stack.LogRetentionDays ?? 30) });
  return [...file.OptionSettings, ...derived];
}

/** Parameter overrides of leadgate.yaml, the secrets' ARNs included. */
export function stackParameters(file) {
  const arns = Object.values(settingsOf(file, SECRETS));
  // A Secrets Manager reference may end in :<json-key>:<version-stage>:<version-id>; the
  // policy names the secret itself (its full ARN, random suffix included).
  const secretIds = arns.filter((arn) => arn.includes(':secretsmanager:')).map((arn) => arn.split(':').slice(0, 7).join(':'));
  return {
    EnvironmentName: file.EnvironmentName,
    ...file.Stack,
    SecretParameterArns: arns.filter((arn) => arn.includes(':ssm:')).join(','),
    SecretsManagerArns: secretIds.join(','),
  };
}

const isMain = process.argv[1] && import.meta.filename === process.argv[1];
if (isMain) {
  const [name, command = 'check', key] = process.argv.slice(2);
  if (!name) {
    console.error('usage: node scripts/eb-environment.mjs <env> check|option-settings|stack-parameters|get <Key>');
    process.exit(64);
  }
  const file = loadEnvironment(name);
  const result = problems(file);
  if (result.problems.length > 0 || result.placeholders.length > 0) {
    for (const problem of result.problems) console.error(`${name}: ${problem}`);
    if (result.placeholders.length > 0) console.error(`${name}: supply ${result.placeholders.join(', ')} (see docs/deployment.md)`);
    process.exit(1);
  }
  if (command === 'option-settings') console.log(JSON.stringify(optionSettings(file), null, 2));
  else if (command === 'stack-parameters') for (const [k, v] of Object.entries(stackParameters(file))) console.log(`${k}=${v}`);
  else if (command === 'get') console.log(key in file && typeof file[key] === 'string' ? file[key] : (settingsOf(file, ENVIRONMENT)[key] ?? ''));
  else if (command !== 'check') {
    console.error(`unknown command ${command}`);
    process.exit(64);
  }
}
