import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { viewerOf } from '../context';
import { Group } from '../entities/group.entity';
import { GroupService } from '../services/group.service';

@Resolver(() => Group)
export class GroupResolver {
  constructor(private readonly groupService: GroupService) {}

  @Authorized()
  @Mutation(() => Group, { description: 'A group owned by the viewer, with some of its friends' })
  createGroup(
    @Arg('name', () => String) name: string,
    @Arg('memberUids', () => [Int]) memberUids: number[],
    @Ctx() ctx: Context,
  ): Promise<Group> {
    return this.groupService.createGroup(viewerOf(ctx), name, memberUids);
  }

  @Authorized()
  @Mutation(() => Group, { description: "Any member adds its own friends, up to the group's size limit" })
  addGroupMembers(
    @Arg('groupId', () => Int) groupId: number,
    @Arg('uids', () => [Int]) uids: number[],
    @Ctx() ctx: Context,
  ): Promise<Group> {
    return this.groupService.addMembers(viewerOf(ctx), groupId, uids);
  }

  @Authorized()
  @Mutation(() => Group, { description: 'The owner removes anyone; a member removes itself (leaves)' })
  removeGroupMember(@Arg('groupId', () => Int) groupId: number, @Arg('uid', () => Int) uid: number, @Ctx() ctx: Context): Promise<Group> {
    return this.groupService.removeMember(viewerOf(ctx), groupId, uid);
  }

  @Authorized()
  @Query(() => [Group], { description: 'The groups the viewer is a member of' })
  groups(@Ctx() ctx: Context): Promise<Group[]> {
    return this.groupService.listGroups(viewerOf(ctx));
  }
}
