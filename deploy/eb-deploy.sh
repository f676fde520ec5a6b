#!/usr/bin/env bash
# Deploys one application version to one environment, with that environment's settings:
#   deploy/eb-deploy.sh <staging|production>
# What Jenkins and CodePipeline's deploy actions (deploy/buildspec-deploy.yml) run, and what a
# person runs by hand. Everything environment-specific comes from
# deploy/environments/<env>.json (checked first: a value still to supply stops it here).
# 1. the CloudFormation stack leadgate-<env> (queues, tables, alarms, log groups, roles, and
#    read access to exactly the environment's secrets), so they exist before code needs them;
# 2. the application version, created once per label: production deploys the very bundle
#    staging ran, under the same label;
# 3. the environment leadgate-<env>: created on the first run, else updated with the version
#    and the file's option settings; then waits as long as Elastic Beanstalk's own deployment
#    may take and checks the version and health.
# Needs the aws CLI with deploy credentials and node. Environment variables:
#   VERSION_LABEL    default <package version>-<git short sha>
#   BUNDLE           the zip (default build/leadgate-<version>.zip); only read when the version is new
#   ARTIFACT_BUCKET  the S3 bucket of application versions; only needed when the version is new
#   EB_APPLICATION   default leadgate
set -euo pipefail
cd "$(dirname "$0")/.."

env_name="${1:?usage: deploy/eb-deploy.sh <staging|production>}"
# ENVIRONMENT_FILE: another file than deploy/environments/<env>.json (tests).
settings() { node scripts/eb-environment.mjs "${ENVIRONMENT_FILE:-$env_name}" "$@"; }
settings check
region="$(settings get Region)"
application="${EB_APPLICATION:-leadgate}"
environment="leadgate-${env_name}"
stack="leadgate-${env_name}"
version="$(node -p 'require("./package.json").version')"
label="${VERSION_LABEL:-${version}-$(git rev-parse --short=12 HEAD)}"
bundle="${BUNDLE:-build/leadgate-${version}.zip}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== CloudFormation stack $stack"
mapfile -t parameters < <(settings stack-parameters)
aws cloudformation deploy --region "$region" \
  --stack-name "$stack" \
  --template-file deploy/cloudformation/leadgate.yaml \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${parameters[@]}"
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
# The file names the queue and tables; they must be the stack's, or the instances would use others.
queue_url="$(output QueueUrl)"
table_prefix="$(output TablePrefix)"
if [ "$(settings get LEADGATE_QUEUE)" = sqs ] && [ "$(settings get SQS_QUEUE_URL)" != "$queue_url" ]; then
  echo "deploy/environments/${env_name}.json: SQS_QUEUE_URL is not the stack's QueueUrl ($queue_url)" >&2; exit 1
fi
if [ "$(settings get DYNAMODB_TABLE_PREFIX)" != "$table_prefix" ]; then
  echo "deploy/environments/${env_name}.json: DYNAMODB_TABLE_PREFIX is not the stack's TablePrefix ($table_prefix)" >&2; exit 1
fi
settings option-settings | node -e '
  const settings = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const [profile, serviceRole] = process.argv.slice(1);
  settings.push({ Namespace: "aws:autoscaling:launchconfiguration", OptionName: "IamInstanceProfile", Value: profile });
  settings.push({ Namespace: "aws:elasticbeanstalk:environment", OptionName: "ServiceRole", Value: serviceRole });
  process.stdout.write(JSON.stringify(settings));
' "$(output InstanceProfileName)" "$(output ServiceRoleArn)" > "$work/option-settings.json"

echo "== application version $label"
if [ -z "$(aws elasticbeanstalk describe-applications --region "$region" --application-names "$application" --query 'Applications[0].ApplicationName' --output text | grep -v '^None$' || true)" ]; then
  aws elasticbeanstalk create-application --region "$region" --application-name "$application" \
    --description "leadgate lead ingestion (docs/deployment.md)"
fi
if [ -z "$(aws elasticbeanstalk describe-application-versions --region "$region" \
      --application-name "$application" --version-labels "$label" \
      --query 'ApplicationVersions[0].VersionLabel' --output text | grep -v '^None$' || true)" ]; then
  [ -f "$bundle" ] || { echo "missing $bundle: run npm run package" >&2; exit 1; }
  bucket="${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET to the S3 bucket holding application versions}"
  key="leadgate/leadgate-${label}.zip"
  aws s3 cp --region "$region" "$bundle" "s3://${bucket}/${key}"
  # --process validates the bundle (.ebextensions) before any environment uses it.
  aws elasticbeanstalk create-application-version --region "$region" \
    --application-name "$application" --version-label "$label" \
    --source-bundle "S3Bucket=${bucket},S3Key=${key}" --process
fi
# Processing takes seconds; there is no CLI waiter for it.
status=""
for _ in $(seq 1 60); do
  status="$(aws elasticbeanstalk describe-application-versions --region "$region" \
    --application-name "$application" --version-labels "$label" \
    --query 'ApplicationVersions[0].Status' --output text)"
  case "$status" in
    PROCESSED) break ;;
    FAILED) echo "application version $label failed to process (.ebextensions?)" >&2; exit 1 ;;
    *) sleep 5 ;;
  esac
done
[ "$status" = PROCESSED ] || { echo "application version $label still $status" >&2; exit 1; }

current_status="$(aws elasticbeanstalk describe-environments --region "$region" \
  --application-name "$application" --environment-names "$environment" --no-include-deleted \
  --query 'Environments[0].Status' --output text)"
if [ "$current_status" = None ] || [ -z "$current_status" ]; then
  echo "== create $environment with $label"
  # The newest Node.js 22 platform on Amazon Linux 2023 (environment secrets need one from
  # 2025-03-26 or later).
  platform="$(aws elasticbeanstalk list-available-solution-stacks --region "$region" \
    --query "SolutionStacks[?contains(@, 'Amazon Linux 2023') && contains(@, 'running Node.js 22')] | [0]" --output text)"
  aws elasticbeanstalk create-environment --region "$region" \
    --application-name "$application" --environment-name "$environment" \
    --cname-prefix "$environment" --solution-stack-name "$platform" --version-label "$label" \
    --option-settings "file://$work/option-settings.json" \
    --tags "Key=application,Value=leadgate" "Key=environment,Value=${env_name}"
else
  echo "== deploy $label to $environment"
  aws elasticbeanstalk update-environment --region "$region" \
    --environment-name "$environment" --version-label "$label" \
    --option-settings "file://$work/option-settings.json"
fi

# `aws elasticbeanstalk wait environment-updated` gives up after 20 polls of 20 s (400 s).
# Elastic Beanstalk allows each batch its command Timeout (.ebextensions/03-deployments.config)
# plus 240 s; a rolling deployment with an additional batch runs one batch per instance and
# one more, so the wait covers MaxSize + 1 batches.
timeout_s="$(aws elasticbeanstalk describe-configuration-settings --region "$region" \
  --application-name "$application" --environment-name "$environment" \
  --query "ConfigurationSettings[0].OptionSettings[?Namespace=='aws:elasticbeanstalk:command' && OptionName=='Timeout'].Value | [0]" --output text)"
max_size="$(aws elasticbeanstalk describe-configuration-settings --region "$region" \
  --application-name "$application" --environment-name "$environment" \
  --query "ConfigurationSettings[0].OptionSettings[?Namespace=='aws:autoscaling:asg' && OptionName=='MaxSize'].Value | [0]" --output text)"
case "$timeout_s" in ''|None|*[!0-9]*) timeout_s=900 ;; esac
case "$max_size" in ''|None|*[!0-9]*) max_size=6 ;; esac
deadline=$(( $(date +%s) + (timeout_s + 240) * (max_size + 1) ))
echo "waiting for $environment (at most $(( (deadline - $(date +%s)) / 60 )) min)"
while :; do
  read -r status health deployed < <(aws elasticbeanstalk describe-environments --region "$region" \
    --environment-names "$environment" --query 'Environments[0].[Status,Health,VersionLabel]' --output text)
  [ "$status" = Ready ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$environment still $status after EB's own deployment timeout" >&2; exit 1
  fi
  sleep 20
done
echo "$environment: health $health, version $deployed"
[ "$deployed" = "$label" ] || { echo "$environment runs $deployed, not $label: the deployment failed (see its events)" >&2; exit 1; }
[ "$health" = Green ] || { echo "$environment is $health after the deployment" >&2; exit 1; }
