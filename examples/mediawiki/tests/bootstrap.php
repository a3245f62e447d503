<?php

/**
 * PHPUnit bootstrap: PSR-4 autoloading for core, the extensions and their tests
 * (core/AutoloadSetup.php). The install, when there is one, is read
 * lazily from $MW_INSTALL_DIR (MediaWiki\Installer\Installer::getSettings()).
 */

error_reporting( E_ALL );
ini_set( 'display_errors', '1' );
date_default_timezone_set( 'UTC' );

define( 'MW_INSTALL_PATH', dirname( __DIR__ ) );
define( 'MW_PHPUNIT_TEST', true );

require_once MW_INSTALL_PATH . '/core/AutoloadSetup.php';
