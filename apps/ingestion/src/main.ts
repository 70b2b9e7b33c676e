/** Ingestion service entry point. */
import 'reflect-metadata';
import { requireConfig } from '@cdp/config';
import { runMain } from '@cdp/nest-platform';
import { ingestionConfigSchema } from './config';
import { startIngestion } from './start';

void runMain(() => startIngestion(requireConfig(ingestionConfigSchema)));
