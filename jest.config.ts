import type { Config } from 'jest'

/**
 * Unit and integration tests, run by `npm test`. ts-jest transpiles each file on its own
 * (`isolatedModules` in tsconfig.json); `npm run typecheck` checks types across the project.
 */
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper: { '^tributary$': '<rootDir>/src/index.ts' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFiles: ['reflect-metadata'],
  testTimeout: 30_000,
  maxWorkers: '50%',
}

export default config
