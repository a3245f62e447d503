# test_render_tree: checks one small thing, taking about 0.4s.
sleep 0.4
