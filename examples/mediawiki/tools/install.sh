#!/bin/sh
# The install step (testfarm's `install:`, run once per tree, cell and agent):
# core/maintenance/install.php with the cell's PHP engine, into the database the
# farm made for the install (FARM_DB_*), writing LocalSettings.php to
# $FARM_INSTALL_DIR.
set -e
cd "$(dirname "$0")/.."
exec tools/php.sh core/maintenance/install.php
