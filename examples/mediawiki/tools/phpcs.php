<?php

/**
 * A tiny coding-style checker for this project (a stand-in for MediaWiki's phpcs ruleset).
 *
 * Usage: php tools/phpcs.php PATH...
 *
 * Checks every .php file under the given paths and prints one line per
 * problem as "file:line: message". Exits 1 if there was any problem.
 *
 * Rules:
 * - the file starts with "<?php" and has no closing "?>" tag at the end
 * - indentation uses tabs (a single space before "*" in doc comments is fine)
 * - no trailing whitespace, no carriage returns
 * - lines are at most MAX_LINE_LENGTH columns (tabs count as 4)
 * - the file ends with exactly one newline
 * - no leftover debugging output (DEBUG_FUNCTIONS)
 */

const MAX_LINE_LENGTH = 150;
const DEBUG_FUNCTIONS = [ 'var_dump', 'debug_zval_dump', 'debug_print_backtrace' ];

/**
 * @return string[] problems for one file
 */
function checkFile( string $path ): array {
	$problems = [];
	$source = file_get_contents( $path );
	if ( $source === false ) {
		return [ "$path:0: cannot read file" ];
	}
	if ( !str_starts_with( $source, "<?php\n" ) ) {
		$problems[] = "$path:1: file must start with \"<?php\" on a line of its own";
	}
	$lines = explode( "\n", $source );
	$last = count( $lines );
	if ( $source === '' || !str_ends_with( $source, "\n" ) ) {
		$problems[] = "$path:$last: file must end with a newline";
	} else {
		// explode() leaves an empty string after the final newline
		array_pop( $lines );
		$last = count( $lines );
		if ( $last > 0 && trim( $lines[$last - 1] ) === '' ) {
			$problems[] = "$path:$last: file must end with exactly one newline (blank lines at end of file)";
		}
	}
	if ( preg_match( '/\?>\s*$/', $source ) ) {
		$problems[] = "$path:$last: closing \"?>\" tag at end of file is not allowed";
	}
	foreach ( $lines as $index => $line ) {
		$number = $index + 1;
		if ( str_contains( $line, "\r" ) ) {
			$problems[] = "$path:$number: carriage return (Windows line ending)";
			$line = str_replace( "\r", '', $line );
		}
		if ( preg_match( '/[ \t]+$/', $line ) ) {
			$problems[] = "$path:$number: trailing whitespace";
		}
		if ( preg_match( '/^\t* +(?!\*)\S/', $line ) || preg_match( '/^\t* +\t/', $line ) ) {
			$problems[] = "$path:$number: indentation must use tabs, not spaces";
		}
		$width = strlen( str_replace( "\t", '    ', $line ) );
		if ( mb_check_encoding( $line, 'UTF-8' ) ) {
			$width = mb_strlen( str_replace( "\t", '    ', $line ), 'UTF-8' );
		}
		if ( $width > MAX_LINE_LENGTH ) {
			$problems[] = "$path:$number: line is $width columns long (maximum " . MAX_LINE_LENGTH . ')';
		}
		if ( preg_match( '/\b(' . implode( '|', DEBUG_FUNCTIONS ) . ')\s*\(/', $line, $m ) ) {
			$problems[] = "$path:$number: {$m[1]}() call left in code";
		}
	}
	// Report in line order
	$lineOf = static fn ( string $problem ): int => (int)substr( $problem, strlen( $path ) + 1 );
	usort( $problems, static fn ( string $a, string $b ): int => $lineOf( $a ) <=> $lineOf( $b ) );
	return $problems;
}

/**
 * @return string[] .php files under a path, sorted
 */
function findPhpFiles( string $path ): array {
	if ( is_file( $path ) ) {
		return [ $path ];
	}
	if ( !is_dir( $path ) ) {
		fwrite( STDERR, "phpcs: no such file or directory: $path\n" );
		exit( 2 );
	}
	$files = [];
	$iterator = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( $path, FilesystemIterator::SKIP_DOTS ) );
	foreach ( $iterator as $file ) {
		if ( $file->isFile() && $file->getExtension() === 'php' ) {
			$files[] = $file->getPathname();
		}
	}
	sort( $files, SORT_STRING );
	return $files;
}

$paths = array_slice( $argv, 1 );
if ( !$paths ) {
	fwrite( STDERR, "Usage: php tools/phpcs.php PATH...\n" );
	exit( 2 );
}
$problemCount = 0;
$fileCount = 0;
foreach ( $paths as $path ) {
	foreach ( findPhpFiles( rtrim( $path, '/' ) ) as $file ) {
		$fileCount++;
		foreach ( checkFile( $file ) as $problem ) {
			echo $problem, "\n";
			$problemCount++;
		}
	}
}
fwrite( STDERR, sprintf( "phpcs %s: %d file(s) checked, %d problem(s)\n", implode( " ", $paths ), $fileCount, $problemCount ) );
exit( $problemCount > 0 ? 1 : 0 );
