import { Field, InputType, ObjectType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { Tenant } from '../tenant/tenant.types.js';
import { User } from '../user/user.types.js';

@ObjectType('Viewer', { description: 'The signed-in administrator and their session.' })
export class ViewerInfo {
  @Field(() => User, { description: 'The administrator.' })
  user!: unknown;

  @Field(() => Tenant, { description: 'Their tenant.' })
  tenant!: unknown;

  @Field(() => Date, { description: 'When the current session expires.' })
  sessionExpiresAt!: Date;
}

@InputType({ description: 'Credentials of a tenant administrator.' })
export class LoginInput {
  @Field(() => String, { description: 'Tenant slug.' })
  tenant!: string;

  @Field(() => String, { description: 'Email of an active member of the Admins group.' })
  email!: string;

  @Field(() => String, { description: 'Password. Never logged or echoed.' })
  password!: string;
}

@ObjectType({ description: 'Result of `login`.' })
export class LoginPayload {
  @Field(() => String, {
    nullable: true,
    description:
      'Bearer session token: send as `Authorization: Bearer <token>` or in the graphql-ws connection_init payload as `{ token }`. Shown once.',
  })
  token?: string | null;

  @Field(() => Date, { nullable: true, description: 'When the session expires.' })
  expiresAt?: Date | null;

  @Field(() => ViewerInfo, { nullable: true, description: 'The signed-in administrator.' })
  viewer?: ViewerInfo | null;

  @Field(() => [UserError], { description: 'Why sign-in failed; empty on success.' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `logout`.' })
export class LogoutPayload {
  @Field(() => Boolean, { description: 'True when the session was ended.' })
  success!: boolean;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
