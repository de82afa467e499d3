// placeholder until k8s lands
