import { describeConfigDocs } from '@cdp/testing';
import { ingestionConfigSchema } from './config';

describeConfigDocs('ingestion', ingestionConfigSchema);
