/** The part of a tap `Test` these helpers need: register cleanup. */
export interface Teardownable {
  teardown: (fn: () => unknown) => void
}
