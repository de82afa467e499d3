// placeholder until runtime lands
