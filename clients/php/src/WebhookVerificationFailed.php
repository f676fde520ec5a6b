<?php

declare(strict_types=1);

namespace Leadgate;

/** Thrown by Webhook::verify(): the request is not a genuine, fresh delivery from leadgate. */
final class WebhookVerificationFailed extends LeadgateException
{
}
