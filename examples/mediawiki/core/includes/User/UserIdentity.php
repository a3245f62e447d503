<?php

namespace MediaWiki\User;

/**
 * A user by id and name; id 0 means an anonymous (IP) user.
 */
interface UserIdentity {
	public function getId(): int;

	public function getName(): string;

	public function isRegistered(): bool;
}
