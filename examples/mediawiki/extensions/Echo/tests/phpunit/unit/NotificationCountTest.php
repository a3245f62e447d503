<?php

namespace MediaWiki\Extension\Echo\Tests;

use MediaWiki\Extension\Echo\NotificationController;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\Echo\NotificationController::formatNotificationCount
 */
class NotificationCountTest extends TestCase {
	public static function provideCounts(): array {
		return [
			[ 0, 99, '0' ],
			[ 1, 99, '1' ],
			[ 99, 99, '99' ],
			[ 100, 99, '99+' ],
			[ 5000, 99, '99+' ],
			[ 10, 9, '9+' ],
		];
	}

	/**
	 * @dataProvider provideCounts
	 */
	public function testFormat( int $count, int $max, string $expected ): void {
		$this->assertSame( $expected, NotificationController::formatNotificationCount( $count, $max ) );
	}
}
