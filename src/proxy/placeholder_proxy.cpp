// placeholder until proxy lands
