export * from "./cluster";
export * from "./fluxInstall";
export * from "./fluxService";
export * from "./fluxSource";
export * from "./gitopsRepo";
export * from "./kube";
export * from "./platformInfrastructure";
export * from "./commitStatus";
