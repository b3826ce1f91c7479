import type { Config } from 'jest'

/**
 * Unit and integration tests, run by `npm test`. ts-jest transpiles each file on its own
 * (`isolatedModules` in tsconfig.json); `npm run typecheck` checks types across the project.
 *
 * Two projects: `legacy-decorators` compiles with `experimentalDecorators` +
 * `emitDecoratorMetadata` (tsconfig.json); `tc39-decorators` compiles `*.tc39.test.ts` files with
 * TC39 standard decorators (tsconfig.tc39.json), where no `design:type` metadata exists.
 */
const shared = {
  testEnvironment: 'node',
  moduleNameMapper: { '^tributary$': '<rootDir>/src/index.ts' },
  setupFiles: ['reflect-metadata'],
} satisfies Config

const config: Config = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 30_000,
  maxWorkers: '50%',
  projects: [
    {
      ...shared,
      displayName: 'legacy-decorators',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['\\.tc39\\.test\\.ts$'],
      transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
    },
    {
      ...shared,
      displayName: 'tc39-decorators',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.tc39.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.tc39.json' }] },
    },
  ],
}

export default config
