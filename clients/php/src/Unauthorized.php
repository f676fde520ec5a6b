<?php

declare(strict_types=1);

namespace Leadgate;

/** 401: the secret key is missing or unknown to leadgate (a configuration error on this side). */
final class Unauthorized extends LeadgateException
{
}
