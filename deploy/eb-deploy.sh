#!/usr/bin/env bash
# Deploys the Elastic Beanstalk bundle built by `npm run package` to one environment:
#   deploy/eb-deploy.sh <staging|production>
# 1. the CloudFormation stack leadgate-<env> (queues, tables, alarms, instance profile) first,
#    so tables and permissions exist before code that needs them runs;
# 2. the application version (created once per label: production deploys the very bundle
#    staging ran);
# 3. update-environment leadgate-<env> with that version and the stack's outputs
#    (SQS_QUEUE_URL, DYNAMODB_TABLE_PREFIX, instance profile), then waits for the rolling
#    deployment (one instance at a time, with an additional batch) and checks health.
# Needs the aws CLI with deploy credentials, ARTIFACT_BUCKET (an S3 bucket in the region), and
# optionally VERSION_LABEL (default <package version>-<git short sha>), ALARM_TOPIC_ARN.
set -euo pipefail
cd "$(dirname "$0")/.."

env_name="${1:?usage: deploy/eb-deploy.sh <staging|production>}"
region="${AWS_REGION:-eu-west-1}"
application="${EB_APPLICATION:-leadgate}"
environment="leadgate-${env_name}"
stack="leadgate-${env_name}"
bucket="${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET to the S3 bucket holding application versions}"
version="$(node -p 'require("./package.json").version')"
label="${VERSION_LABEL:-${version}-$(git rev-parse --short=12 HEAD)}"
bundle="build/leadgate-${version}.zip"
[ -f "$bundle" ] || { echo "missing $bundle: run npm run package" >&2; exit 1; }

echo "== CloudFormation stack $stack"
aws cloudformation deploy --region "$region" \
  --stack-name "$stack" \
  --template-file deploy/cloudformation/leadgate.yaml \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "EnvironmentName=${env_name}" "AlarmTopicArn=${ALARM_TOPIC_ARN:-}"
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
queue_url="$(output QueueUrl)"
table_prefix="$(output TablePrefix)"
instance_profile="$(output InstanceProfileName)"

echo "== application version $label"
if [ -z "$(aws elasticbeanstalk describe-application-versions --region "$region" \
      --application-name "$application" --version-labels "$label" \
      --query 'ApplicationVersions[0].VersionLabel' --output text | grep -v '^None$' || true)" ]; then
  key="leadgate/leadgate-${label}.zip"
  aws s3 cp --region "$region" "$bundle" "s3://${bucket}/${key}"
  # --process validates the bundle (.ebextensions) before any environment uses it.
  aws elasticbeanstalk create-application-version --region "$region" \
    --application-name "$application" --version-label "$label" \
    --source-bundle "S3Bucket=${bucket},S3Key=${key}" --process
fi
# Processing takes seconds; there is no CLI waiter for it.
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

echo "== deploy $label to $environment"
aws elasticbeanstalk update-environment --region "$region" \
  --environment-name "$environment" --version-label "$label" \
  --option-settings \
    "Namespace=aws:elasticbeanstalk:application:environment,OptionName=SQS_QUEUE_URL,Value=${queue_url}" \
    "Namespace=aws:elasticbeanstalk:application:environment,OptionName=DYNAMODB_TABLE_PREFIX,Value=${table_prefix}" \
    "Namespace=aws:autoscaling:launchconfiguration,OptionName=IamInstanceProfile,Value=${instance_profile}"
aws elasticbeanstalk wait environment-updated --region "$region" --environment-names "$environment"

read -r health deployed < <(aws elasticbeanstalk describe-environments --region "$region" \
  --environment-names "$environment" --query 'Environments[0].[Health,VersionLabel]' --output text)
echo "$environment: health $health, version $deployed"
[ "$deployed" = "$label" ] && [ "$health" = "Green" ]
