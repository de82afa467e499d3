// placeholder until cli lands
