// placeholder until admin lands
