// placeholder until samplemodel lands
