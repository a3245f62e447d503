<?php

namespace MediaWiki\Extension\Thanks;

use MediaWiki\Config\HashConfig;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Echo\NotificationController;
use MediaWiki\Page\PageStore;
use MediaWiki\Revision\RevisionStore;
use MediaWiki\User\UserIdentity;
use MediaWiki\Utils\MWTimestamp;

/**
 * Thank a user for a revision: validate, log and notify through Echo.
 */
class ThanksService {
	private RevisionStore $revisions;
	private PageStore $pages;
	private ThanksLog $log;
	private NotificationController $notifications;
	private HashConfig $config;

	public function __construct(
		RevisionStore $revisions, PageStore $pages, ThanksLog $log, NotificationController $notifications,
		HashConfig $config
	) {
		$this->revisions = $revisions;
		$this->pages = $pages;
		$this->log = $log;
		$this->notifications = $notifications;
		$this->config = $config;
	}

	/**
	 * @throws ThanksException
	 */
	public function thankForRevision( UserIdentity $giver, int $revId ): Event {
		$rev = $this->revisions->getRevisionById( $revId );
		if ( $rev === null ) {
			throw new ThanksException( 'thanks-error-invalidrevision' );
		}
		$limit = (int)$this->config->get( 'ThanksMaxPerDay' );
		$since = ( new MWTimestamp( MWTimestamp::time() - 86400 ) )->getTimestamp( MWTimestamp::TS_MW );
		if ( $this->log->countThanksGivenSince( $giver->getId(), $since ) >= $limit ) {
			throw new ThanksException( 'thanks-error-ratelimited', [ (string)$limit ] );
		}
		$recipient = $rev->getUser();
		$this->log->recordThank( $giver, $recipient, $revId );
		$page = $this->pages->getPageById( $rev->getPageId() );
		$event = new Event( 'edit-thank', $giver, $page ? $page->getTitle() : null, [
			'revid' => $revId,
			'thanked-user-id' => $recipient->getId(),
			'thanked-user-name' => $recipient->getName(),
			'recipients' => [ $recipient->getId() ],
		] );
		$this->notifications->notify( $event );
		return $event;
	}
}
