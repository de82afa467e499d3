// placeholder until routing lands
