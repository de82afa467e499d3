// placeholder until upstream lands
