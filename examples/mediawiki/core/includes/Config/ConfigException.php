<?php

namespace MediaWiki\Config;

use RuntimeException;

/**
 * Thrown for unknown or invalid configuration settings.
 */
class ConfigException extends RuntimeException {
}
