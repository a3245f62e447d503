<?php

/**
 * PSR-4 autoloading for core, its tests and the extensions (from each
 * extensions/<Name>/extension.json: AutoloadNamespaces and TestAutoloadNamespaces).
 * Shared by the PHPUnit bootstrap and the maintenance scripts.
 */

if ( !defined( 'MW_INSTALL_PATH' ) ) {
	define( 'MW_INSTALL_PATH', dirname( __DIR__ ) );
}

require_once __DIR__ . '/includes/Autoload/Psr4Autoloader.php';

$wgAutoloader = new MediaWiki\Autoload\Psr4Autoloader();
$wgAutoloader->addNamespace( 'MediaWiki\\', MW_INSTALL_PATH . '/core/includes' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\', MW_INSTALL_PATH . '/core/tests/phpunit/includes' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\Unit\\', MW_INSTALL_PATH . '/core/tests/phpunit/unit' );
$wgAutoloader->addNamespace( 'MediaWiki\\Tests\\Integration\\', MW_INSTALL_PATH . '/core/tests/phpunit/integration' );

foreach ( glob( MW_INSTALL_PATH . '/extensions/*/extension.json' ) ?: [] as $extensionJson ) {
	$info = json_decode( (string)file_get_contents( $extensionJson ), true );
	if ( !is_array( $info ) ) {
		fwrite( STDERR, "autoload: invalid JSON in $extensionJson\n" );
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
