// The library entry point: a Command Center app imports the client and hooks from here.
export * from "./api/client";
export * from "./hooks";
export * from "./format";
