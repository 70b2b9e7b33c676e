/** Identity service entry point. */
import 'reflect-metadata';
import { requireConfig } from '@cdp/config';
import { runMain } from '@cdp/nest-platform';
import { identityConfigSchema } from './config';
import { startIdentity } from './start';

void runMain(() => startIdentity(requireConfig(identityConfigSchema)));
