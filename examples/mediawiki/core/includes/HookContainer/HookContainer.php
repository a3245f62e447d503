<?php

namespace MediaWiki\HookContainer;

use InvalidArgumentException;
use UnexpectedValueException;

/**
 * Registry and dispatcher for hook handlers.
 */
class HookContainer {
	/** @var array<string,array<int,callable|string>> */
	private array $handlers = [];

	/**
	 * @param callable|string $handler A callable or "Class::method"
	 */
	public function register( string $hook, $handler ): void {
		if ( !preg_match( '/^[A-Za-z][A-Za-z0-9_]*$/', $hook ) ) {
			throw new InvalidArgumentException( "Invalid hook name '$hook'" );
		}
		if ( !is_callable( $handler, true ) ) {
			throw new InvalidArgumentException( "Invalid handler for hook $hook" );
		}
		$this->handlers[$hook][] = $handler;
	}

	public function isRegistered( string $hook ): bool {
		return !empty( $this->handlers[$hook] );
	}

	public function getHandlerCount( string $hook ): int {
		return count( $this->handlers[$hook] ?? [] );
	}

	/**
	 * @return string[]
	 */
	public function getHookNames(): array {
		$names = array_keys( $this->handlers );
		sort( $names );
		return $names;
	}

	public function clear( string $hook ): void {
		unset( $this->handlers[$hook] );
	}

	/**
	 * Call all handlers in registration order. A handler returning false stops
	 * the chain (only allowed when abortable). Pass references in $args for
	 * handlers that modify their arguments.
	 *
	 * @return bool False if a handler aborted
	 */
	public function run( string $hook, array $args = [], array $options = [] ): bool {
		$abortable = $options['abortable'] ?? true;
		foreach ( $this->handlers[$hook] ?? [] as $handler ) {
			if ( !is_callable( $handler ) ) {
				throw new UnexpectedValueException( "Handler for hook $hook is not callable: " . print_r( $handler, true ) );
			}
			$result = $handler( ...$args );
			if ( $result === false ) {
				if ( !$abortable ) {
					throw new UnexpectedValueException( "Handler for non-abortable hook $hook returned false" );
				}
				return false;
			}
			if ( $result !== null && $result !== true ) {
				throw new UnexpectedValueException( "Invalid return value from a $hook handler: " . get_debug_type( $result ) );
			}
		}
		return true;
	}
}
