#!/bin/sh
# The install step of examples/mediawiki-checkout (testfarm's `install:`, once per
# tree, cell and agent): maintenance/install.php into the database the farm made for
# the install (FARM_DB_*: SQLite, MariaDB or PostgreSQL), LocalSettings.php written
# into $FARM_INSTALL_DIR (MW_CONFIG_FILE points MediaWiki there, so the tree's own
# LocalSettings.php is never touched), reading the database of each task from its
# environment: every task runs on its own copy of the install's database.
#
#   install.sh [EXTENSION...]   also wfLoadExtension each, then update.php
#
# Runs in the MediaWiki tree (the project directory).
set -eu
: "${FARM_INSTALL_DIR:?run by the farm as a stage's install step}"
: "${FARM_DB_TYPE:?the stage needs a database service}"
settings="$FARM_INSTALL_DIR/LocalSettings.php"
export MW_CONFIG_FILE="$settings"

# install.php with the database options given, and the rest as everywhere.
mw_install() {
	php maintenance/run.php install "$@" --server http://localhost --scriptpath "" --lang en \
		--with-developmentsettings --pass Farm-admin-pass-1 --confpath "$FARM_INSTALL_DIR" FarmWiki Admin >&2
}

case "$FARM_DB_TYPE" in
	sqlite)
		# The SQLite file is named after the database, and each task's directory holds a
		# copy of the install's files: the name stays, the directory is the task's.
		mw_install --dbtype sqlite --dbpath "$FARM_DB_DIR" --dbname my_wiki
		sed -i 's|^\$wgSQLiteDataDir = .*|$wgSQLiteDataDir = getenv( "FARM_DB_DIR" );|' "$settings"
		;;
	mysql)
		mw_install --dbtype mysql --dbserver "localhost:$FARM_DB_SOCKET" --dbname "$FARM_DB_NAME" \
			--dbuser "$FARM_DB_USER" --dbpass "" --installdbuser "$FARM_DB_USER" --installdbpass ""
		cat >> "$settings" <<'PHP'
$wgDBserver = 'localhost:' . getenv( 'FARM_DB_SOCKET' );
$wgDBname = getenv( 'FARM_DB_NAME' );
PHP
		;;
	postgres)
		mw_install --dbtype postgres --dbserver "$FARM_DB_SOCKET" --dbport "$FARM_DB_PORT" --dbname "$FARM_DB_NAME" \
			--dbuser "$FARM_DB_USER" --dbpass "" --installdbuser "$FARM_DB_USER" --installdbpass ""
		cat >> "$settings" <<'PHP'
$wgDBserver = getenv( 'FARM_DB_SOCKET' );
$wgDBname = getenv( 'FARM_DB_NAME' );
PHP
		;;
	*) echo "install.sh: no MediaWiki install for FARM_DB_TYPE=$FARM_DB_TYPE" >&2; exit 2 ;;
esac

# What MediaWiki writes while tests run (uploads, and the file lock manager's
# directory under them) goes into the task's own directory: the sandbox keeps the
# tree read-only, and concurrent tasks never share these.
cat >> "$settings" <<'PHP'
$wgUploadDirectory = ( getenv( 'FARM_SHARD_DIR' ) ?: sys_get_temp_dir() ) . '/images';
PHP

if [ $# -gt 0 ]; then
	for ext in "$@"; do
		echo "wfLoadExtension( '$ext' );" >> "$settings"
	done
	php maintenance/run.php update --quick >&2
fi
