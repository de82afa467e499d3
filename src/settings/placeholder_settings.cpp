// placeholder until settings lands
