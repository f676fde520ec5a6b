import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface SqsDlqOptions {
  /** Defaults to `<queue name>-dlq`. */
  queueName?: string;
  /** Receives before SQS moves a message to the DLQ; defaults to 20. */
  maxReceiveCount?: number;
}

// Far above the default retry schedule's 8 receives, so only a job that keeps failing reaches the DLQ.
const DEFAULT_MAX_RECEIVE_COUNT = 20;
const DLQ_RETENTION_SEC = '1209600'; // 14 days, the SQS maximum

/**
 * Creates the queue and its DLQ when missing (CreateQueue is idempotent) and gives a queue that
 * has no redrive policy one. A queue that already has one (CloudFormation's) is left as it is.
 * For emulators and local runs; production queues come from CloudFormation.
 */
export async function migrateSqsQueue(client: SQSClient, queueUrl: string, dlq: SqsDlqOptions = {}): Promise<void> {
  const name = queueNameOf(queueUrl);
  await client.send(new CreateQueueCommand({ QueueName: name }));
  const current = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  if (current.Attributes?.RedrivePolicy) return;
  const { QueueUrl: dlqUrl } = await client.send(new CreateQueueCommand({ QueueName: dlq.queueName ?? `${name}-dlq` }));
  // Retention counts from a message's first enqueue, so the DLQ keeps messages as long as SQS allows.
  await client.send(
    new SetQueueAttributesCommand({ QueueUrl: dlqUrl, Attributes: { MessageRetentionPeriod: DLQ_RETENTION_SEC } }),
  );
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
  const redrive = {
    deadLetterTargetArn: Attributes?.QueueArn,
    maxReceiveCount: dlq.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT,
  };
  await client.send(
    new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { RedrivePolicy: JSON.stringify(redrive) } }),
  );
}

function queueNameOf(queueUrl: string): string {
  const name = new URL(queueUrl).pathname.split('/').filter(Boolean).pop();
  if (!name) throw new Error('SQS queue url has no queue name');
  return decodeURIComponent(name);
}
