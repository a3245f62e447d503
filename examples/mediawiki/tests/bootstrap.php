<?php

/**
 * PHPUnit bootstrap: PSR-4 autoloading for core, the extensions and their tests.
 *
 * Extension namespaces are read from each extensions/<Name>/extension.json
 * (AutoloadNamespaces and TestAutoloadNamespaces).
 */

error_reporting( E_ALL );
ini_set( 'display_errors', '1' );
date_default_timezone_set( 'UTC' );

define( 'MW_INSTALL_PATH', dirname( __DIR__ ) );
define( 'MW_PHPUNIT_TEST', true );

require_once MW_INSTALL_PATH . '/core/includes/Autoload/Psr4Autoloader.php';

$wgAutoloader = new MediaWiki\Autoload\Psr4Autoloader();
$wgAutoloader->addNamespace( 'MediaWiki\\', MW_INSTALL_PATH . '/core/includes' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\', MW_INSTALL_PATH . '/core/tests/phpunit/includes' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\Unit\\', MW_INSTALL_PATH . '/core/tests/phpunit/unit' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\Integration\\', MW_INSTALL_PATH . '/core/tests/phpunit/integration' );

foreach ( glob( MW_INSTALL_PATH . '/extensions/*/extension.json' ) ?: [] as $extensionJson ) {
	$info = json_decode( (string)file_get_contents( $extensionJson ), true );
	if ( !is_array( $info ) ) {
		fwrite( STDERR, "bootstrap: invalid JSON in $extensionJson\n" );
		exit( 1 );
	}
	foreach ( [ 'AutoloadNamespaces', 'TestAutoloadNamespaces' ] as $key ) {
		foreach ( $info[$key] ?? [] as $prefix => $dir ) {
			$wgAutoloader->addNamespace( $prefix, dirname( $extensionJson ) . '/' . $dir );
		}
	}
}
unset( $extensionJson, $info, $key, $prefix, $dir );

$wgAutoloader->register();
