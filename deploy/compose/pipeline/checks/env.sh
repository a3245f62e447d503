# The documented environment of a command is there.
for v in FARM_RUN_ID FARM_TASK_ID FARM_STAGE FARM_SHARD_DIR TMPDIR FARM_AXIS_SHELL; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || { echo "$v is not set"; exit 1; }
done
[ "$FARM_STAGE" = checks ] || { echo "FARM_STAGE=$FARM_STAGE"; exit 1; }
